// Counter-based random numbers (Random123 Philox4x64-10).
//
// A stream is keyed by {seed, stream id} and addressed by a counter {trial, purpose, block, 0}:
// the numbers a trial draws depend only on what the trial is, never on which rank or thread
// runs it or in which order. Transforms are fixed (Random123's u01 and Box-Muller), never
// std:: distributions, whose output differs between standard libraries.
#pragma once

#include <Random123/philox.h>

#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>
#include <cstdint>

namespace attnsweep::mc {

// What a stream's numbers are used for; a separate counter range each.
enum class Purpose : std::uint64_t { tokens = 0, probes = 1, bootstrap = 2 };

class RandomStream {
 public:
  using Generator = r123::Philox4x64;

  RandomStream(std::uint64_t seed, std::uint64_t stream, std::uint64_t trial, Purpose purpose)
      : key_{{seed, stream}}, counter_{{trial, static_cast<std::uint64_t>(purpose), 0, 0}} {}

  std::uint64_t next_u64() {
    if (used_ == 4) refill();
    return block_.v[used_++];
  }

  // Uniform on (0, 1], never 0 (safe for log in Box-Muller).
  double uniform() { return r123::u01<double>(next_u64()); }

  // Standard normal; pairs from one Box-Muller call, the second kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const std::uint64_t a = next_u64(), b = next_u64();
    const r123::double2 z = r123::boxmuller(a, b);
    spare_ = z.y;
    has_spare_ = true;
    return z.x;
  }

  // +1 or -1 with probability 1/2 each (Rademacher probe entries).
  double sign() {
    if (bits_left_ == 0) {
      bits_ = next_u64();
      bits_left_ = 64;
    }
    const double s = (bits_ & 1u) ? 1.0 : -1.0;
    bits_ >>= 1;
    --bits_left_;
    return s;
  }

 private:
  void refill() {
    block_ = Generator{}(counter_, key_);
    counter_.v[2] += 1;  // next block of this (trial, purpose)
    used_ = 0;
  }

  Generator::key_type key_;
  Generator::ctr_type counter_;
  Generator::ctr_type block_{};
  int used_ = 4;
  bool has_spare_ = false;
  double spare_ = 0;
  std::uint64_t bits_ = 0;
  int bits_left_ = 0;
};

}  // namespace attnsweep::mc
