// The process exit codes of the public contract (docs/guide.md), one place for every command.
#pragma once

namespace attnsweep::sweep {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailedCells = 1;  // cells (or searches) failed; the rest is done
inline constexpr int kExitBadInput = 2;     // refused: nothing was computed, nothing changed
inline constexpr int kExitInternal = 3;     // a bug: an unexpected exception
inline constexpr int kExitIoError = 74;     // disk full, read/write error (sysexits' EX_IOERR)
inline constexpr int kExitStopped = 75;     // stopped early (signal, time limit): rerun to resume

}  // namespace attnsweep::sweep
