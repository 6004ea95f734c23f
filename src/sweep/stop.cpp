#include "attnsweep/sweep/stop.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "attnsweep/sweep/exit_codes.hpp"

namespace attnsweep::sweep {

namespace {
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may only touch lock-free atomics");
pid_t g_launcher = 0;

extern "C" void on_stop_signal(int signal) { g_stop_signal.store(signal, std::memory_order_relaxed); }
}  // namespace

int stop_signal() { return g_stop_signal.load(std::memory_order_relaxed); }
void clear_stop_signal() { g_stop_signal.store(0); }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESTART;  // a signal must not make a write or read fail with EINTR
  sigemptyset(&action.sa_mask);
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaction(s, &action, nullptr);
}

void release_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaction(s, &action, nullptr);
  if (const int signal = stop_signal(); signal != 0) std::raise(signal);  // one that came early
}

// Installed before main(), as soon as the program is loaded: mpirun forwards a stop signal to
// ranks that may still be starting, and a rank without a handler would die of it (exit 138)
// instead of stopping cleanly. Commands that are not `run` release them at once (main).
__attribute__((constructor)) static void install_stop_handlers_at_load() { install_stop_handlers(); }

void remember_launcher() { g_launcher = ::getppid(); }

void leave_if_orphaned() {
  if (g_launcher != 0 && ::getppid() != g_launcher) std::_Exit(kExitStopped);
}

}  // namespace attnsweep::sweep
