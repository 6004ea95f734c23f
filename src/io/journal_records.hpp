// Internal to io/: the journal's record payloads. A payload starts with the cell (or search)
// index (i64) and a kind byte; encode() writes one, decode() reads one back and returns false
// for anything that is not a well-formed payload of that kind (the journal then treats the
// bytes as damage).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "attnsweep/io/journal.hpp"

namespace attnsweep::io {

inline constexpr std::uint8_t kTrialsKind = 3;      // after the CellStatus values 0..2
inline constexpr std::uint8_t kUndefinedKind = 4;   // a whole cell of status undefined (CellStatus 3)
inline constexpr std::uint8_t kEvaluationKind = 5;  // some trials of a critical search at one gamma

// The kind byte that follows the index (the payload is at least 9 bytes).
inline std::uint8_t kind_of(std::string_view payload) { return static_cast<std::uint8_t>(payload[8]); }

std::string encode(const CellRecord& r);
bool decode(std::string_view p, CellRecord& r);
// Trials [begin, end) of the record: a long record is written as several payloads.
std::string encode(const TrialsRecord& r, size_t begin, size_t end);
bool decode(std::string_view p, TrialsRecord& r);
std::string encode(const EvaluationRecord& r, size_t begin, size_t end);
bool decode(std::string_view p, EvaluationRecord& r);

}  // namespace attnsweep::io
