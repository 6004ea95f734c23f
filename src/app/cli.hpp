// Helpers shared by the subcommands (src/app only): option parsing and JSON values.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace attnsweep::app {

// Parses subcommand options; every Boost error becomes a one-line io::InputError; --help or -h
// throws HelpRequested with the option list.
boost::program_options::variables_map parse(
    const std::vector<std::string>& args, const boost::program_options::options_description& desc,
    const boost::program_options::positional_options_description* positional = nullptr,
    std::vector<std::string>* unrecognised = nullptr);
// A JSON number (17 significant digits), null when not finite.
std::string json_number(double v);
// A JSON string, quotes and backslashes escaped, control characters as spaces.
std::string json_string(const std::string& s);

}  // namespace attnsweep::app
