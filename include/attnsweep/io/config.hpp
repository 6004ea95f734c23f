// The sweep's configuration: INI file plus key=value overrides, fully validated.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnsweep/mc/tokens.hpp"
#include "attnsweep/mc/trial.hpp"

namespace attnsweep::io {

// Bad user input (config, command line, files). The app maps it to exit code 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An I/O fault of the system, not of the input (disk full, a read or write error, a file
// that cannot be replaced). The app maps it to exit code 74 (sysexits' EX_IOERR). The message
// names the file and the cause.
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Resource caps: far above any real sweep, low enough that a mistyped value is refused in
// milliseconds instead of exhausting memory. (10^8 cells need about 10 GB on rank 0.)
inline constexpr std::int64_t kMaxCells = 100'000'000;
inline constexpr size_t kMaxAxisValues = 1'000'000;
inline constexpr long kMaxConfigBytes = 1 << 20;
// The kernel's cache a trial may use by default (model::kKernelCacheBytes), and the most mc.cache-mb takes.
inline constexpr long kDefaultCacheMiB = static_cast<long>(model::kKernelCacheBytes >> 20);
inline constexpr long kMaxCacheMiB = 1 << 20;
using mc::kMaxDimension;
using mc::kMaxProbes;
using mc::kMaxTokens;
using mc::kMaxTrials;

enum class GammaScale { absolute, critical };

// The [critical] section: settings of `attnsweep critical` (sweep/critical.hpp). Not part of a
// sweep's identity (a `run` ignores them); part of the critical search's.
struct CriticalConfig {
  double target = 0;  // the lambda to cross; 0: the paper's critical value 1 / (1 + 3 rho)
  double tolerance = 1e-4;
  long resamples = 2000;
  double confidence = 0.95;
  std::string file;  // empty: output.file with .h5 replaced by .critical.h5
  // critical.position: which lambda the search follows: all pairs' (whole, the default), the last
  // position bucket's, or one search per position bucket (all; model::position_bucket).
  enum class Positions { whole, last, all };
  Positions positions = Positions::whole;
};
const char* positions_name(CriticalConfig::Positions positions);  // "whole", "last", "all"

struct SweepConfig {
  std::vector<double> rho, gamma;
  std::vector<long> d, n;
  GammaScale gamma_scale = GammaScale::absolute;
  long trials = 8;
  long probes = 4;
  mc::JacobianMethod jacobian = mc::JacobianMethod::exact;
  mc::Geometry geometry = mc::Geometry::gaussian;
  double alpha = 0;
  model::ScalingLaw scaling = model::ScalingLaw::log;
  long layers = 1;  // the layer applied this many times (> 1 needs hutchinson); in the text only when > 1
  // mc.mask (none | causal) and mc.train-length (qwen-logn's T; 0: not given): in the text only
  // when causal and when given, so older configs keep their text and hash.
  model::Mask mask = model::Mask::none;
  long train_length = 0;
  // mc.position: what the observables describe (model::kWholeSequence, kLastBucket or a bucket;
  // model::parse_position); in the text only when not whole.
  int position = model::kWholeSequence;
  // mc.cache-mb: MiB of the kernel's cache a trial may use (model::TiledLayer::set_cache_bytes; in
  // the text only when not the default). Part of the identity: what is cached and what recomputed
  // can differ in the last bit, so one study is computed with one budget.
  long cache_mb = kDefaultCacheMiB;
  // Model parameters swept as axes of the grid ([grid] alpha, layers, scaling, mask, position;
  // io/study_axes.hpp); empty: the scalar above holds for every cell.
  std::vector<double> alpha_values;
  std::vector<long> layers_values;
  std::vector<model::ScalingLaw> scaling_values;
  std::vector<model::Mask> mask_values;
  std::vector<int> position_values;
  std::uint64_t seed = 2025;
  long max_attempts = 2;  // a failing cell is tried this many times before it is marked failed
  int threads = 1;  // threads per rank on one trial; not part of the sweep's identity (results do not depend on it)
  std::string output = "attnsweep.h5";
  CriticalConfig critical;

  // The config normalised to one canonical INI text (every key, fixed order, values in
  // round-trip precision). Stored in the HDF5 file and hashed: two configs that define
  // the same sweep have the same text and hash, whatever their spelling.
  std::string canonical_text() const;
  std::uint64_t hash() const;  // FNV-1a 64 of canonical_text(); output file name excluded
  // The critical search's identity: canonical_text() plus its [critical] settings.
  std::string critical_text() const;
  std::uint64_t critical_hash() const;
  // The lambda a critical search crosses at this rho.
  double critical_target(double rho) const;
  std::string critical_output() const;
};

// Parses an INI config text plus "section.key=value" (or unique "key=value") overrides,
// which win over the file. Throws InputError naming the key and value on any problem.
SweepConfig parse_config(const std::string& ini_text, const std::vector<std::string>& overrides,
                         const std::string& source_name);
SweepConfig load_config(const std::string& path, const std::vector<std::string>& overrides);

// "start:stop:step" (stop included, robust to floating-point steps) or "a, b, c".
std::vector<double> parse_real_axis(const std::string& key, const std::string& text);
std::vector<long> parse_integer_axis(const std::string& key, const std::string& text);

// The actual gamma of a grid point (gamma axis value times 1/(1 - rho) when gamma-scale = critical).
double cell_gamma(const SweepConfig& config, double rho, double gamma_axis_value);

// Values are written with 17 significant digits (round trip) unless they are short decimals.
std::string format_real(double value);

// What differs between two canonical texts (a file's and a config's), key by key:
// "mc.seed: file 2025, config 99; grid.n: file 512, config 512, 1024" (long values shortened;
// a key absent from one side is its default there).
std::string config_differences(const std::string& file_text, const std::string& config_text);

}  // namespace attnsweep::io
