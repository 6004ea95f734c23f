// The subcommands of the `attnsweep` executable. Each returns the process exit code and
// throws io::InputError for bad input (mapped to exit 2 by main).
#pragma once

#include <string>
#include <vector>

namespace attnsweep::app {

// Thrown by a subcommand given --help or -h: main prints `options` (the command's option list)
// and exits 0 without running anything.
struct HelpRequested {
  std::string options;
};

int cell_command(const std::vector<std::string>& args);
int run_command(const std::vector<std::string>& args, int& argc, char**& argv);
int plan_command(const std::vector<std::string>& args);
int status_command(const std::vector<std::string>& args);
int query_command(const std::vector<std::string>& args);
int verify_command(const std::vector<std::string>& args);
int merge_command(const std::vector<std::string>& args);
int critical_command(const std::vector<std::string>& args, int& argc, char**& argv);

}  // namespace attnsweep::app
