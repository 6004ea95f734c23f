#include "attnsweep/sweep/messages.hpp"

#include <stdexcept>

#include "attnsweep/io/bytes.hpp"

namespace attnsweep::sweep {

namespace {
void write_task(io::ByteWriter& w, const Task& task) {
  w.put(static_cast<std::uint64_t>(task.cells.size()));
  for (std::int64_t cell : task.cells) w.put(cell);
  w.put(task.first_trial);
  w.put(task.trial_count);
  w.put(task.estimated_seconds);
  w.put(static_cast<std::uint64_t>(task.gammas.size()));
  for (double gamma : task.gammas) w.put(gamma);
  w.put(static_cast<std::uint8_t>(task.lambda_only));
  w.put(task.position);
}

Task read_task(io::ByteReader& in) {
  Task t;
  const auto count = in.get<std::uint64_t>();
  if (count == 0 || count > in.remaining() / sizeof(std::int64_t)) throw std::runtime_error("malformed task message");
  t.cells.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) t.cells.push_back(in.get<std::int64_t>());
  t.first_trial = in.get<std::uint64_t>();
  t.trial_count = in.get<std::uint64_t>();
  t.estimated_seconds = in.get<double>();
  const auto gammas = in.get<std::uint64_t>();
  if (gammas != 0 && gammas != count) throw std::runtime_error("malformed task message (gammas)");
  for (std::uint64_t i = 0; i < gammas; ++i) t.gammas.push_back(in.get<double>());
  t.lambda_only = in.get<std::uint8_t>() != 0;
  t.position = in.get<std::int32_t>();
  return t;
}
}  // namespace

std::string encode(const Task& task) {
  std::string out;
  io::ByteWriter w(out);
  write_task(w, task);
  return out;
}

Task decode_task(const std::string& bytes) {
  io::ByteReader in(bytes);
  return read_task(in);
}

std::string encode(const TaskResult& r) {
  std::string out;
  io::ByteWriter w(out);
  write_task(w, r.task);
  w.put(static_cast<std::uint8_t>(r.abandoned));
  w.put(r.seconds);
  for (const CellOutcome& outcome : r.outcomes) {
    w.put(outcome.cell);
    w.put(static_cast<std::uint8_t>(outcome.ok));
    w.put(static_cast<std::uint64_t>(outcome.samples.size()));
    for (const auto& [trial, value] : outcome.samples.by_trial()) {
      w.put(trial);
      for (double v : value) w.put(v);
    }
    w.put_text(outcome.error);
  }
  return out;
}

TaskResult decode_result(const std::string& bytes) {
  io::ByteReader in(bytes);
  TaskResult r;
  r.task = read_task(in);
  r.abandoned = in.get<std::uint8_t>() != 0;
  r.seconds = in.get<double>();
  r.outcomes.reserve(r.task.cells.size());
  for (size_t k = 0; k < r.task.cells.size(); ++k) {
    CellOutcome outcome;
    outcome.cell = in.get<std::int64_t>();
    outcome.ok = in.get<std::uint8_t>() != 0;
    const auto count = in.get<std::uint64_t>();
    if (count > in.remaining() / (8 * (1 + mc::kObservableCount))) throw std::runtime_error("malformed result message");
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto trial = in.get<std::uint64_t>();
      mc::TrialResult value;
      for (double& v : value) v = in.get<double>();
      outcome.samples.add(trial, value);
    }
    outcome.error = in.get_text();
    r.outcomes.push_back(std::move(outcome));
  }
  if (!in.at_end()) throw std::runtime_error("malformed result message (trailing bytes)");
  return r;
}

}  // namespace attnsweep::sweep
