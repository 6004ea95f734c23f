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

// Kinds 0..4 are read, no longer written: a whole cell whose kind is its status (0..2, 4 for
// undefined) and 3 some trials; both hold lambda and eta only (kLegacyObservableCount).
inline constexpr std::uint8_t kTrialsKind = 3;
inline constexpr std::uint8_t kUndefinedKind = 4;
inline constexpr std::uint8_t kEvaluationKind = 5;     // some trials of a critical search at one gamma
inline constexpr std::uint8_t kCellKind = 6;           // a whole cell: status, then the observable count
inline constexpr std::uint8_t kTrialsCountedKind = 7;  // some trials, with the observable count
inline constexpr std::size_t kLegacyObservableCount = 2;

inline bool is_trials_kind(std::uint8_t kind) { return kind == kTrialsKind || kind == kTrialsCountedKind; }

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
