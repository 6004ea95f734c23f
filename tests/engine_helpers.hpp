// Helpers shared by the engine's unit tests (config text, temporary paths, journal replay).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

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
