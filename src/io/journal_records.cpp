// The journal's record payloads (journal.hpp has the file layout), in the project's byte codec.
#include "journal_records.hpp"

#include <limits>

#include "attnsweep/io/bytes.hpp"

namespace attnsweep::io {

namespace {
constexpr size_t kMaxErrorText = 4096;
}  // namespace

std::string encode(const CellRecord& r) {
  std::string p;
  ByteWriter w(p);
  w.put(r.cell);
  w.put(kCellKind);
  w.put(static_cast<std::uint8_t>(r.status));
  w.put(static_cast<std::uint8_t>(mc::kObservableCount));
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
    const auto kind = in.get<std::uint8_t>();
    // Before the observable count was written (kinds 0..2 and 4) the kind was the status and
    // the record held lambda and eta.
    std::uint8_t status = kind == kUndefinedKind ? static_cast<std::uint8_t>(CellStatus::undefined) : kind;
    size_t stored = kLegacyObservableCount;
    if (kind == kCellKind) {
      status = in.get<std::uint8_t>();
      stored = in.get<std::uint8_t>();
    } else if (kind > 2 && kind != kUndefinedKind) {
      return false;
    }
    if (status > static_cast<std::uint8_t>(CellStatus::undefined) || stored < 1 || stored > mc::kObservableCount)
      return false;
    r.trials = in.get<std::int32_t>();
    const double unknown = std::numeric_limits<double>::quiet_NaN();
    for (size_t k = 0; k < mc::kObservableCount; ++k) {
      ObservableRecord& o = r.observables[k];
      o.mean = k < stored ? in.get<double>() : unknown;
      o.std_error = k < stored ? in.get<double>() : unknown;
      o.trial.clear();
    }
    r.seconds = in.get<double>();
    r.attempts = in.get<std::int32_t>();
    r.error = in.get_text();
    if (!in.at_end()) {
      const auto count = in.get<std::uint32_t>();
      if (in.remaining() != static_cast<size_t>(count) * 8 * stored) return false;
      for (ObservableRecord& o : r.observables) o.trial.assign(count, unknown);
      for (std::uint32_t t = 0; t < count; ++t)
        for (size_t k = 0; k < stored; ++k) r.observables[k].trial[t] = in.get<double>();
    }
    if (!in.at_end()) return false;
    r.status = static_cast<CellStatus>(status);
    return true;
  } catch (const TruncatedBytes&) {
    return false;
  }
}

std::string encode(const TrialsRecord& r, size_t begin, size_t end) {
  std::string p;
  ByteWriter w(p);
  w.put(r.cell);
  w.put(kTrialsCountedKind);
  // The seconds go with the first chunk only, so that chunks add up to the record's time.
  w.put(begin == 0 ? r.seconds : 0.0);
  w.put(static_cast<std::uint8_t>(mc::kObservableCount));
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
    if (kind != kTrialsKind && kind != kTrialsCountedKind) return false;
    r.seconds = in.get<double>();
    // kTrialsKind (before the count was written) holds lambda and eta.
    const size_t stored = kind == kTrialsCountedKind ? in.get<std::uint8_t>() : kLegacyObservableCount;
    const auto count = in.get<std::uint32_t>();
    if (stored < 1 || stored > mc::kObservableCount || in.remaining() != static_cast<size_t>(count) * 8 * (1 + stored))
      return false;
    r.trial.resize(count);
    for (std::vector<double>& v : r.values) v.assign(count, std::numeric_limits<double>::quiet_NaN());
    for (std::uint32_t i = 0; i < count; ++i) {
      r.trial[i] = in.get<std::uint64_t>();
      for (size_t k = 0; k < stored; ++k) r.values[k][i] = in.get<double>();
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
