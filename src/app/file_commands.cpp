// `attnsweep verify` and `attnsweep merge`: commands on finished files.
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/paths.hpp"
#include "attnsweep/io/provenance.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/merge.hpp"
#include "cli.hpp"
#include "commands.hpp"

namespace attnsweep::app {

namespace po = boost::program_options;
using io::InputError;

// ------------------------------------------------------------------------------- status
namespace {
std::string single_file(const std::vector<std::string>& args, const char* command) {
  std::string file;
  po::options_description desc(std::string("attnsweep ") + command + " options");
  desc.add_options()("file", po::value(&file)->required(), "HDF5 output");
  po::positional_options_description positional;
  positional.add("file", 1);
  parse(args, desc, &positional);
  return file;
}
}  // namespace

// ------------------------------------------------------------------------------- verify
int verify_command(const std::vector<std::string>& args) {
  const std::string file = single_file(args, "verify");
  const auto problems = io::verify_results_file(file);
  for (const auto& p : problems) {
    if (p.rfind(file + ":", 0) == 0)
      std::printf("%s\n", p.c_str());
    else
      std::printf("%s: %s\n", file.c_str(), p.c_str());
  }
  if (!problems.empty()) {
    std::fprintf(stderr, "attnsweep: %s: %zu problem%s found\n", file.c_str(), problems.size(),
                 problems.size() == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s: OK (structure, shapes, dimension scales, status consistency, Fletcher-32 checksums)\n",
              file.c_str());
  return 0;
}

// ------------------------------------------------------------------------------- merge
int merge_command(const std::vector<std::string>& args) {
  std::string output;
  std::vector<std::string> inputs;
  po::options_description desc("attnsweep merge options");
  desc.add_options()("output", po::value(&output)->required(), "merged HDF5 file to create")(
      "inputs", po::value(&inputs)->multitoken()->required(), "slice files of the same sweep");
  po::positional_options_description positional;
  positional.add("output", 1).add("inputs", -1);
  parse(args, desc, &positional);
  struct stat st {};
  if (stat(output.c_str(), &st) == 0) throw InputError("merge output " + output + " exists; it is never overwritten");
  io::check_output_path(output);
  std::vector<io::ResultsFile> files;
  for (const auto& path : inputs) {
    files.push_back(io::read_results_file(path));
    io::require_this_kernel(path, files.back().kernel_version);
  }
  for (size_t i = 1; i < files.size(); ++i) {
    if (files[i].config_hash != files[0].config_hash) {
      throw InputError(inputs[i] + " belongs to another sweep than " + inputs[0] + " (config differs)");
    }
  }
  const io::SweepState merged = sweep::merge_states(files, inputs);
  io::SweepConfig config = files[0].config;
  io::write_results_file(output, config, merged);
  std::printf("%s: merged %zu files: %lld done, %lld undefined, %lld failed, %lld missing\n", output.c_str(),
              files.size(), static_cast<long long>(merged.count(io::CellStatus::done)),
              static_cast<long long>(merged.count(io::CellStatus::undefined)),
              static_cast<long long>(merged.count(io::CellStatus::failed)),
              static_cast<long long>(merged.count(io::CellStatus::missing)));
  return 0;
}

}  // namespace attnsweep::app
