// Text helpers of the config reader: trimming, where a key is in an INI text, which known key
// a typo meant, and what differs between two canonical texts.
#include "config_text.hpp"

#include <algorithm>
#include <sstream>
#include <utility>
#include <vector>

#include "attnsweep/io/config.hpp"

namespace attnsweep::io {

namespace po = boost::program_options;

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// ", line N" of the first line that assigns `key` (section.name) in an INI text; "" if none.
std::string line_of_key(const std::string& text, const std::string& key) {
  const std::string section = key.substr(0, key.find('.')), name = key.substr(key.find('.') + 1);
  std::istringstream in(text);
  std::string line, current;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string t = trim(line);
    if (t.size() > 1 && t.front() == '[') {
      current = trim(t.substr(1, t.find(']') - 1));
    } else if (current == section && t.find('=') != std::string::npos && trim(t.substr(0, t.find('='))) == name) {
      return ", line " + std::to_string(number);
    }
  }
  return "";
}

namespace {
// Levenshtein distance, for suggesting the key a typo meant.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}
}  // namespace

// " (did you mean 'grid.gamma'?)" for a key within 2 edits of a known one (section or name).
std::string closest_key_hint(const std::string& key, const po::options_description& desc) {
  std::string best;
  size_t best_distance = 3;
  const std::string name = key.substr(key.find('.') + 1);
  for (const auto& option : desc.options()) {
    const std::string& full = option->long_name();
    const size_t distance = std::min(edit_distance(key, full),
                                     edit_distance(name, full.substr(full.find('.') + 1)) + (key == name ? 0 : 1));
    if (distance < best_distance) best_distance = distance, best = full;
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

namespace {
// section.key -> value of a canonical text, in its order.
std::vector<std::pair<std::string, std::string>> canonical_entries(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> entries;
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
    } else if (const auto eq = line.find(" = "); eq != std::string::npos) {
      entries.emplace_back(section + "." + line.substr(0, eq), line.substr(eq + 3));
    }
  }
  return entries;
}

std::string shortened(const std::string& value) {
  return value.size() <= 40 ? value : value.substr(0, 18) + " ... " + value.substr(value.size() - 17);
}
}  // namespace

std::string config_differences(const std::string& file_text, const std::string& config_text) {
  const auto file = canonical_entries(file_text), config = canonical_entries(config_text);
  const auto value_in = [](const auto& entries, const std::string& key) {
    for (const auto& [k, v] : entries)
      if (k == key) return v;
    return std::string("(default)");
  };
  std::vector<std::string> keys;
  for (const auto* side : {&file, &config})
    for (const auto& entry : *side)
      if (std::find(keys.begin(), keys.end(), entry.first) == keys.end()) keys.push_back(entry.first);
  std::string text;
  for (const std::string& key : keys) {
    const std::string a = value_in(file, key), b = value_in(config, key);
    if (a != b) text += (text.empty() ? "" : "; ") + key + ": file " + shortened(a) + ", config " + shortened(b);
  }
  return text;
}

}  // namespace attnsweep::io
