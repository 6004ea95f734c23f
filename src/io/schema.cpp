#include "schema.hpp"

#include <limits>
#include <sstream>

#include "attnsweep/io/provenance.hpp"
#include "attnsweep/model/kernel.hpp"

namespace attnsweep::io {

namespace {
constexpr const char* kReference =
    "Chen, Lin, Polyanskiy, Rigollet: Critical attention scaling in long-context transformers, ICLR 2026";
}  // namespace

void describe_file(const h5::Handle& file, const std::string& kind, std::int64_t schema_version,
                   const std::string& title) {
  h5::set_attribute(file, "/", "kind", kind);
  h5::set_attribute(file, "/", "schema_version", schema_version);
  h5::set_attribute(file, "/", "engine_version", engine_version());
  h5::set_attribute(file, "/", "kernel_version", std::int64_t{model::kKernelVersion});
  const std::string now = utc_now();
  h5::set_attribute(file, "/", "created_utc", now);
  h5::set_attribute(file, "/", "title", title);
  h5::set_attribute(file, "/", "Conventions", std::string("CF-1.10"));
  h5::set_attribute(file, "/", "source", std::string("attnsweep ") + engine_version() + ", Monte-Carlo simulation");
  h5::set_attribute(file, "/", "history", now + " written by attnsweep " + engine_version() + " (" + kind + ")");
  h5::set_attribute(file, "/", "references", std::string(kReference));
}

void describe_variables(const h5::Handle& file, const std::vector<Variable>& variables) {
  for (const Variable& v : variables) {
    h5::set_attribute(file, v.path, "long_name", v.long_name);
    if (!v.units.empty()) h5::set_attribute(file, v.path, "units", v.units);
    if (v.nan_fill) h5::set_attribute(file, v.path, "_FillValue", std::numeric_limits<double>::quiet_NaN());
  }
}

void describe_settings(const h5::Handle& file, const std::string& config_text) {
  std::istringstream in(config_text);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find(" = ");
    if (eq == std::string::npos || section.empty()) continue;
    h5::set_attribute(file, "/", section + "." + line.substr(0, eq), line.substr(eq + 3));
  }
}

void describe_flags(const h5::Handle& file, const std::string& path, const std::vector<std::string>& meanings) {
  std::vector<std::uint8_t> values;
  std::string words, readable;
  for (size_t k = 0; k < meanings.size(); ++k) {
    values.push_back(static_cast<std::uint8_t>(k));
    words += (k ? " " : "") + meanings[k];
    readable += (k ? ", " : "") + std::to_string(k) + " " + meanings[k];
  }
  h5::set_attribute(file, path, "flag_values", values);
  h5::set_attribute(file, path, "flag_meanings", words);
  h5::set_attribute(file, path, "meaning", readable);
}

}  // namespace attnsweep::io
