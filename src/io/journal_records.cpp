// The journal's record payloads (journal.hpp has the file layout), in the project's byte codec.
#include "journal_records.hpp"

#include "attnsweep/io/bytes.hpp"

namespace attnsweep::io {

namespace {
constexpr size_t kMaxErrorText = 4096;
}  // namespace

std::string encode(const CellRecord& r) {
  std::string p;
  ByteWriter w(p);
  w.put(r.cell);
  // Kind byte: the status, except that undefined (3) takes kUndefinedKind, 3 being a trials record's.
  w.put(r.status == CellStatus::undefined ? kUndefinedKind : static_cast<std::uint8_t>(r.status));
  w.put(r.trials);
  for (const ObservableRecord& o : r.observables) {
    w.put(o.mean);
    w.put(o.std_error);
  }
  w.put(r.seconds);
  w.put(r.attempts);
  w.put_text(std::string_view(r.error).substr(0, kMaxErrorText));
  // Since 0.2: a done cell's per-trial values (count, then every observable of each trial in
  // trial order). A record of 0.1 ends before them and replays with the values unknown.
  const size_t count = r.observables[0].trial.size();
  bool complete = count > 0 && count <= static_cast<size_t>(kMaxTrialSlots);
  for (const ObservableRecord& o : r.observables) complete = complete && o.trial.size() == count;
  if (complete) {
    w.put(static_cast<std::uint32_t>(count));
    for (size_t t = 0; t < count; ++t)
      for (const ObservableRecord& o : r.observables) w.put(o.trial[t]);
  }
  return p;
}

bool decode(std::string_view p, CellRecord& r) {
  try {
    ByteReader in(p);
    r.cell = in.get<std::int64_t>();
    const auto status = in.get<std::uint8_t>();
    r.trials = in.get<std::int32_t>();
    for (ObservableRecord& o : r.observables) {
      o.mean = in.get<double>();
      o.std_error = in.get<double>();
      o.trial.clear();
    }
    r.seconds = in.get<double>();
    r.attempts = in.get<std::int32_t>();
    r.error = in.get_text();
    if (!in.at_end()) {
      const auto count = in.get<std::uint32_t>();
      if (in.remaining() != static_cast<size_t>(count) * 8 * mc::kObservableCount) return false;
      for (ObservableRecord& o : r.observables) o.trial.resize(count);
      for (std::uint32_t t = 0; t < count; ++t)
        for (ObservableRecord& o : r.observables) o.trial[t] = in.get<double>();
    }
    if ((status > 2 && status != kUndefinedKind) || !in.at_end()) return false;
    r.status = status == kUndefinedKind ? CellStatus::undefined : static_cast<CellStatus>(status);
    return true;
  } catch (const TruncatedBytes&) {
    return false;
  }
}

std::string encode(const TrialsRecord& r, size_t begin, size_t end) {
  std::string p;
  ByteWriter w(p);
  w.put(r.cell);
  w.put(kTrialsKind);
  // The seconds go with the first chunk only, so that chunks add up to the record's time.
  w.put(begin == 0 ? r.seconds : 0.0);
  w.put(static_cast<std::uint32_t>(end - begin));
  for (size_t i = begin; i < end; ++i) {
    w.put(r.trial[i]);
    for (const std::vector<double>& v : r.values) w.put(v[i]);
  }
  return p;
}

bool decode(std::string_view p, TrialsRecord& r) {
  try {
    ByteReader in(p);
    r.cell = in.get<std::int64_t>();
    const auto kind = in.get<std::uint8_t>();
    r.seconds = in.get<double>();
    const auto count = in.get<std::uint32_t>();
    if (kind != kTrialsKind || in.remaining() != static_cast<size_t>(count) * 8 * (1 + mc::kObservableCount))
      return false;
    r.trial.resize(count);
    for (std::vector<double>& v : r.values) v.resize(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      r.trial[i] = in.get<std::uint64_t>();
      for (std::vector<double>& v : r.values) v[i] = in.get<double>();
    }
    return true;
  } catch (const TruncatedBytes&) {
    return false;
  }
}

std::string encode(const EvaluationRecord& r, size_t begin, size_t end) {
  std::string p;
  ByteWriter w(p);
  w.put(r.search);
  w.put(kEvaluationKind);
  w.put(begin == 0 ? r.seconds : 0.0);
  w.put(r.gamma);
  w.put(static_cast<std::uint32_t>(end - begin));
  for (size_t i = begin; i < end; ++i) {
    w.put(r.trial[i]);
    w.put(r.lambda[i]);
  }
  return p;
}

bool decode(std::string_view p, EvaluationRecord& r) {
  try {
    ByteReader in(p);
    r.search = in.get<std::int64_t>();
    const auto kind = in.get<std::uint8_t>();
    r.seconds = in.get<double>();
    r.gamma = in.get<double>();
    const auto count = in.get<std::uint32_t>();
    if (kind != kEvaluationKind || in.remaining() != static_cast<size_t>(count) * 16) return false;
    r.trial.resize(count);
    r.lambda.resize(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      r.trial[i] = in.get<std::uint64_t>();
      r.lambda[i] = in.get<double>();
    }
    return true;
  } catch (const TruncatedBytes&) {
    return false;
  }
}

}  // namespace attnsweep::io
