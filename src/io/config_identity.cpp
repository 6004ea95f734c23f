// A config's identity: the canonical text that defines a study (and the critical search's, its
// [critical] settings added) and the hashes of both, which journals and files carry so that a
// resume or growth under another config is refused.
#include <sstream>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "config_text.hpp"

namespace attnsweep::io {

const char* positions_name(CriticalConfig::Positions positions) {
  switch (positions) {
    case CriticalConfig::Positions::last:
      return "last";
    case CriticalConfig::Positions::all:
      return "all";
    case CriticalConfig::Positions::whole:
      break;
  }
  return "whole";
}

std::string SweepConfig::canonical_text() const {
  std::ostringstream out;
  auto reals = [&](const std::vector<double>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + format_real(v[i]);
    return s;
  };
  auto ints = [&](const std::vector<long>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s;
  };
  out << "[grid]\n"
      << "rho = " << reals(rho) << "\n"
      << "gamma = " << reals(gamma) << "\n"
      << "d = " << ints(d) << "\n"
      << "n = " << ints(n) << "\n"
      << "gamma-scale = " << (gamma_scale == GammaScale::critical ? "critical" : "absolute") << "\n"
      << swept_canonical_lines(*this) << "[mc]\n"
      << "trials = " << trials << "\n"
      << "probes = " << probes << "\n"
      << "jacobian = " << mc::jacobian_name(jacobian) << "\n"
      << "geometry = " << mc::geometry_name(geometry) << "\n"
      << (is_swept(*this, "alpha") ? std::string() : "alpha = " + format_real(alpha) + "\n")
      // Only when not the paper's law, so that every config of 0.1 keeps its text and hash.
      << (scaling == model::ScalingLaw::log ? std::string()
                                            : std::string("scaling = ") + model::scaling_name(scaling) + "\n")
      << (layers == 1 ? std::string() : "layers = " + std::to_string(layers) + "\n")
      << (mask == model::Mask::none || is_swept(*this, "mask") ? std::string() : "mask = causal\n")
      << (train_length == 0 ? std::string() : "train-length = " + std::to_string(train_length) + "\n")
      << (position == model::kWholeSequence || is_swept(*this, "position")
              ? std::string()
              : "position = " + model::position_name(position) + "\n")
      << "seed = " << seed << "\n"
      << (cache_mb == kDefaultCacheMiB ? std::string() : "cache-mb = " + std::to_string(cache_mb) + "\n");
  return out.str();
}

namespace {
std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace

std::uint64_t SweepConfig::hash() const { return fnv1a(canonical_text()); }

std::string SweepConfig::critical_text() const {
  return canonical_text() + "[critical]\ntarget = " + (critical.target > 0 ? format_real(critical.target) : "paper") +
         "\ntolerance = " + format_real(critical.tolerance) + "\nresamples = " + std::to_string(critical.resamples) +
         "\nconfidence = " + format_real(critical.confidence) + "\n" +
         (critical.positions == CriticalConfig::Positions::whole
              ? std::string()
              : std::string("position = ") + positions_name(critical.positions) + "\n");
}

std::uint64_t SweepConfig::critical_hash() const { return fnv1a(critical_text()); }

}  // namespace attnsweep::io
