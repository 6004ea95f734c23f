// The helpers every command shares (cli.hpp): option parsing and JSON values.
#include "cli.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "attnsweep/io/config.hpp"
#include "commands.hpp"

namespace attnsweep::app {

namespace po = boost::program_options;
using io::InputError;

// Parses subcommand options; every Boost error becomes a one-line InputError.
po::variables_map parse(const std::vector<std::string>& args, const po::options_description& desc,
                        const po::positional_options_description* positional, std::vector<std::string>* unrecognised) {
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::ostringstream text;
      text << desc;
      throw HelpRequested{text.str()};
    }
  }
  po::variables_map vm;
  try {
    auto parser = po::command_line_parser(args).options(desc);
    if (positional) parser.positional(*positional);
    if (unrecognised) parser.allow_unregistered();
    const po::parsed_options parsed = parser.run();
    if (unrecognised) *unrecognised = po::collect_unrecognized(parsed.options, po::include_positional);
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(e.what());
  }
  return vm;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20)
      out += ' ';
    else
      out += c;
  }
  return out + "\"";
}

}  // namespace attnsweep::app
