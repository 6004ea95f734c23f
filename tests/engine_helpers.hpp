// Helpers shared by the engine's unit tests (config text, temporary paths, journal replay).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnsweep/io/journal.hpp"

namespace engine_test {
namespace io = attnsweep::io;

inline const char* const kGood =
    "[grid]\nrho = 0.05:0.95:0.05\ngamma = 0.25:10:0.25\nd = 2, 32, 512\nn = 1024\n"
    "[mc]\ntrials = 8\nprobes = 4\njacobian = exact\ngeometry = gaussian\nalpha = 0\nseed = 2025\n"
    "[output]\nfile = figure1.h5\n";

inline std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/attnsweep_" + std::to_string(::getpid()) + "_" + name;
}

// A cell record: lambda's and eta's mean and standard error (mc::kObservables' order), and
// optionally their per-trial values.
inline io::CellRecord cell_record(std::int64_t cell, io::CellStatus status, std::int32_t trials, double lambda_mean,
                                  double lambda_stderr, double eta_mean, double eta_stderr, double seconds,
                                  std::int32_t attempts, std::string error, std::vector<double> trial_lambda = {},
                                  std::vector<double> trial_eta = {}) {
  io::CellRecord r;
  r.cell = cell;
  r.status = status;
  r.trials = trials;
  r.seconds = seconds;
  r.attempts = attempts;
  r.error = std::move(error);
  r.observables[attnsweep::mc::kLambda].mean = lambda_mean;
  r.observables[attnsweep::mc::kLambda].std_error = lambda_stderr;
  r.observables[attnsweep::mc::kLambda].trial = std::move(trial_lambda);
  r.observables[attnsweep::mc::kEta].mean = eta_mean;
  r.observables[attnsweep::mc::kEta].std_error = eta_stderr;
  r.observables[attnsweep::mc::kEta].trial = std::move(trial_eta);
  // The probes' standard error: not measured (the exact method), NaN in every trial.
  io::ObservableRecord& probe = r.observables[attnsweep::mc::kEtaProbeStderr];
  probe.mean = probe.std_error = std::nan("");
  probe.trial.assign(r.observables[attnsweep::mc::kLambda].trial.size(), std::nan(""));
  return r;
}

// Some trials of an unfinished cell: lambda and eta per trial.
inline io::TrialsRecord trials_record(std::int64_t cell, double seconds, std::vector<std::uint64_t> trial,
                                      std::vector<double> lambda, std::vector<double> eta) {
  io::TrialsRecord r;
  r.cell = cell;
  r.seconds = seconds;
  r.trial = std::move(trial);
  r.values[attnsweep::mc::kLambda] = std::move(lambda);
  r.values[attnsweep::mc::kEta] = std::move(eta);
  r.values[attnsweep::mc::kEtaProbeStderr].assign(r.trial.size(), std::nan(""));
  return r;
}

// Collects what a journal replay hands out.
struct Replayed {
  std::vector<io::CellRecord> cells;
  std::vector<io::TrialsRecord> trials;
  io::JournalVisitor visitor() {
    io::JournalVisitor v;
    v.on_cell = [this](const io::CellRecord& r) { cells.push_back(r); };
    v.on_trials = [this](const io::TrialsRecord& r) { trials.push_back(r); };
    return v;
  }
};

}  // namespace engine_test
