// Internal to io/: text helpers of the config reader that its messages need (where a key is,
// which key a typo meant). Not part of the io interface.
#pragma once

#include <boost/program_options.hpp>
#include <string>

namespace attnsweep::io {

// The text without leading and trailing blanks (spaces, tabs, CR, LF).
std::string trim(const std::string& s);

// ", line N" of the first line that assigns `key` (section.name) in an INI text; "" if none.
std::string line_of_key(const std::string& text, const std::string& key);

// " (did you mean 'grid.gamma'?)" for a key within 2 edits of a known one; "" otherwise.
std::string closest_key_hint(const std::string& key, const boost::program_options::options_description& desc);

}  // namespace attnsweep::io
