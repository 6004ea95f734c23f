// Stop requests from signals, and the orphan check.
//
// Signal handlers only record the signal in a lock-free std::atomic (async-signal-safe). They
// decide nothing: rank 0 alone decides to stop and tells every rank; a worker that receives a
// signal on its own passes it on to rank 0 (sweep/workers.hpp).
#pragma once

#include <atomic>

namespace attnsweep::sweep {

// The last stop signal received (SIGTERM, SIGINT, SIGUSR1), 0 if none.
int stop_signal();
// Installs the handlers (SA_RESTART). Call as early as possible: before MPI_Init, so that a
// signal in a rank's first moments is a clean stop, not a kill.
void install_stop_handlers();
// Back to the default dispositions (a signal then ends the process), re-raising one that
// arrived while the handlers were installed. For every command but `run`.
void release_stop_handlers();
// For tests: forget a received signal.
void clear_stop_signal();

// The launcher (mpirun, slurmstepd) that started this process; if it dies (kill -9, node loss)
// the process is an orphan and leaves at once with exit code 75. The journal is durable batch
// by batch and the HDF5 file is replaced atomically, so there is nothing to tidy up.
void remember_launcher();
void leave_if_orphaned();

}  // namespace attnsweep::sweep
