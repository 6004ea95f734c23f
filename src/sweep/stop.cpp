#include "attnsweep/sweep/stop.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "attnsweep/sweep/driver.hpp"

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

void remember_launcher() { g_launcher = ::getppid(); }

void leave_if_orphaned() {
  if (g_launcher != 0 && ::getppid() != g_launcher) std::_Exit(kExitStopped);
}

}  // namespace attnsweep::sweep
