// attnsweep: thin entry point. Parse the subcommand, dispatch, map exceptions to exit codes.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/provenance.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/sweep/stop.hpp"
#include "commands.hpp"

namespace {
const char* const kUsage =
    "usage: attnsweep <command> [options]\n"
    "  cell    --rho R --gamma G --d D --n N [--trials T] [--probes M] [--geometry gaussian|simplex]\n"
    "          [--alpha A] [--seed S] [--jacobian exact|hutchinson] [--scaling LAW] [--layers L]\n"
    "          [--threads T] [--format json|table]\n"
    "  run     --config FILE.ini [--output FILE.h5] [--retry-failed] [--time-limit S] [--snapshot-every S]\n"
    "          [--slice K/N] [section.key=value ...]   (under mpirun -n P; P = 1 works)\n"
    "  critical --config FILE.ini [--output FILE.h5] [--format table|csv|json] [--time-limit S]\n"
    "          [section.key=value ...]   gamma_c per (rho, d, n) by bisection (under mpirun)\n"
    "  plan    --config FILE.ini      cells, estimated cost, suggested ranks and wall time\n"
    "  status  FILE.h5 [--format table|json]  state (running, stopped, finished, failed), counts, journal\n"
    "  query   FILE.h5 [--rho X] [--gamma Y] [--d D] [--n N] [--status S] [--format table|csv|json]\n"
    "  verify  FILE.h5                structural and checksum checks\n"
    "  merge   OUT.h5 IN.h5 ...       combine slices of one sweep\n"
    "  --version                      version, git commit, library versions\n"
    "  COMMAND --help                 that command's options\n"
    "exit codes: 0 ok, 1 failed cells or broken file, 2 bad input, 74 I/O error (disk full, read/write\n"
    "            error), 75 stopped early (resumable), 3 internal error\n";

// The lines of kUsage that describe `command` (its line and the indented continuation lines).
std::string usage_of(const std::string& command) {
  std::string out, line;
  bool inside = false;
  for (const char* c = kUsage; *c; ++c) {
    line += *c;
    if (*c != '\n') continue;
    if (line.rfind("  " + command + " ", 0) == 0)
      inside = true;
    else if (line.rfind("          ", 0) != 0)
      inside = false;
    if (inside) out += line;
    line.clear();
  }
  return out;
}

// Everything a command printed must have reached standard output: a full disk or a closed pipe
// there is an I/O fault (74), not a success with nothing written.
int check_stdout(int code) {
  const bool failed_before = std::ferror(stdout) != 0;
  errno = 0;
  const bool flush_failed = std::fflush(stdout) != 0;
  const int error = errno;
  if (!failed_before && !flush_failed) return code;
  std::fprintf(stderr, "attnsweep: I/O error: cannot write to standard output: %s\n",
               std::strerror(error != 0 ? error : EIO));
  return code == 0 || code == 1 ? 74 : code;
}

// Runs one subcommand and maps its exceptions to exit codes.
int dispatch(const std::string& command, const std::vector<std::string>& args, int argc, char** argv) {
  try {
    namespace app = attnsweep::app;
    if (command == "cell") return app::cell_command(args);
    if (command == "run") return app::run_command(args, argc, argv);
    if (command == "critical") return app::critical_command(args, argc, argv);
    if (command == "plan") return app::plan_command(args);
    if (command == "status") return app::status_command(args);
    if (command == "query") return app::query_command(args);
    if (command == "verify") return app::verify_command(args);
    if (command == "merge") return app::merge_command(args);
    if (command == "--version" || command == "version") {
      std::printf("%s\n", attnsweep::io::build_description().c_str());
      return 0;
    }
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "attnsweep: unknown command '%s' (try attnsweep --help)\n", command.c_str());
    return 2;
  } catch (const attnsweep::app::HelpRequested& help) {
    std::printf("usage: attnsweep <command> [options]\n%s\n%s", usage_of(command).c_str(), help.options.c_str());
    return 0;
  } catch (const attnsweep::io::InputError& e) {
    std::fprintf(stderr, "attnsweep: %s\n", e.what());
    return 2;
  } catch (const attnsweep::io::IoError& e) {
    std::fprintf(stderr, "attnsweep: I/O error: %s\n", e.what());
    return 74;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnsweep: internal error: %s\n", e.what());
    return 3;
  }
}
}  // namespace

// A trial's matrices on transparent huge pages. Where the kernel gives them only on request
// (THP "madvise", Debian's default), a process's first trial spent half its time faulting in
// 4 KiB pages (n 1024, d 512, 4 probes: 0.82-0.84 s against 0.29 s warm; 0.40-0.59 s with huge
// pages). glibc (2.35 on) asks for them on its large allocations when the tunable
// glibc.malloc.hugetlb=1 is set, which it reads only at start: so the process sets it and
// re-executes itself once, before MPI or anything else has started (same PID, same arguments).
// The arithmetic does not change. ATTNSWEEP_HUGE_PAGES=0 turns it off.
void run_on_huge_pages(char** argv) {
  const char* opt_out = std::getenv("ATTNSWEEP_HUGE_PAGES");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((opt_out && std::string(opt_out) == "0") || (tunables && std::strstr(tunables, "glibc.malloc.hugetlb"))) return;
  std::FILE* thp = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  char mode[128] = {};
  if (!thp) return;
  const bool read = std::fgets(mode, sizeof mode, thp) != nullptr;
  std::fclose(thp);
  if (!read || !std::strstr(mode, "[madvise]")) return;  // "always" has them already, "never" has none
  const std::string value =
      tunables && *tunables ? std::string(tunables) + ":glibc.malloc.hugetlb=1" : std::string("glibc.malloc.hugetlb=1");
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

int main(int argc, char** argv) {
  run_on_huge_pages(argv);
  if (argc < 2) {
    std::fputs("attnsweep: no command given (try attnsweep --help)\n", stderr);
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  // The stop handlers (installed at load time for `run`) would make every other command deaf
  // to Ctrl-C.
  if (command != "run" && command != "critical") attnsweep::sweep::release_stop_handlers();
  return check_stdout(dispatch(command, args, argc, argv));
}
