#include "cell_positions.hpp"

#include <cmath>
#include <cstdio>
#include <utility>

#include "cli.hpp"

namespace attnsweep::app {

bool positional(const mc::CellParams& cell) {
  return cell.mask == model::Mask::causal || model::per_position(cell.scaling);
}

PositionReport position_report(const mc::CellParams& cell, const std::vector<mc::PositionResult>& trials) {
  PositionReport report;
  const int buckets = model::position_buckets(cell.n);
  for (int b = 0; b < buckets; ++b) {
    std::vector<double> lambda, eta;
    for (const mc::PositionResult& trial : trials) {
      lambda.push_back(trial.lambda[static_cast<size_t>(b)]);
      eta.push_back(trial.eta[static_cast<size_t>(b)]);
    }
    report.lambda.push_back(mc::summarize(lambda));
    report.eta.push_back(mc::summarize(eta));
  }
  // The closed form is for one layer on the exact simplex, which exists for d >= n + 1.
  report.theory_applies = cell.layers == 1 && cell.d >= cell.n + 1;
  if (report.theory_applies) {
    report.theory = model::simplex_position_theory(cell.rho, cell.gamma, cell.n, static_cast<double>(cell.d),
                                                   cell.alpha, cell.attention());
  }
  return report;
}

namespace {
// A bucket's first and last token among the cell's n.
std::pair<long, long> bucket_tokens(size_t bucket, long n) {
  const int b = static_cast<int>(bucket);
  return {static_cast<long>(model::bucket_first(b)), static_cast<long>(model::bucket_end(b, n) - 1)};
}

std::string shown(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return std::isfinite(v) ? std::string(text) : std::string("n/a");
}
}  // namespace

void print_position_table(const mc::CellParams& cell, const PositionReport& r) {
  std::printf(
      "  by position (bucket b: tokens [2^b, 2^(b+1)), b = 0 also token 0; lambda over pairs whose later token "
      "is in it, eta over its rows)\n");
  std::printf("  %6s %15s %6s %12s %10s %12s %12s %10s %12s %12s\n", "bucket", "tokens", "beta_i", "lambda", "stderr",
              "median", "eta", "stderr", "median", "simplex");
  for (size_t b = 0; b < r.lambda.size(); ++b) {
    const auto [first, last] = bucket_tokens(b, cell.n);
    char tokens[40];
    std::snprintf(tokens, sizeof tokens, "%ld..%ld", first, last);
    const mc::Summary &l = r.lambda[b], &e = r.eta[b];
    const std::string theory =
        r.theory_applies ? shown(r.theory.lambda[b]) + " / " + shown(r.theory.eta[b]) : std::string("n/a");
    std::printf("  %6zu %15s %6.3g %12.6g %10.3g %12.6g %12.6g %10.3g %12.6g %s\n", b, tokens,
                cell.attention().row_scale(cell.gamma, last, cell.n), l.mean, l.std_error, l.quantiles[2], e.mean,
                e.std_error, e.quantiles[2], theory.c_str());
  }
  if (r.theory_applies) std::printf("  (simplex: the closed form's lambda / eta of each bucket)\n");
}

std::string position_json(const mc::CellParams& cell, const PositionReport& r) {
  // Each observable as an object of its own ("lambda": {"mean": ...}): no key repeats a top-level
  // one (lambda_mean), so a reader looking for the cell's lambda_mean finds only that.
  const auto observable = [&](const mc::Summary& s, double theory) {
    return "{\"mean\": " + json_number(s.mean) + ", \"stderr\": " + json_number(s.std_error) +
           ", \"median\": " + json_number(s.quantiles[2]) + ", \"simplex\": " + json_number(theory) + "}";
  };
  std::string text = "[";
  for (size_t b = 0; b < r.lambda.size(); ++b) {
    const auto [first, last] = bucket_tokens(b, cell.n);
    text += (b ? ", " : "") + std::string("{\"bucket\": ") + std::to_string(b) +
            ", \"first\": " + std::to_string(first) + ", \"last\": " + std::to_string(last) +
            ", \"beta_last\": " + json_number(cell.attention().row_scale(cell.gamma, last, cell.n)) +
            ", \"lambda\": " + observable(r.lambda[b], r.theory_applies ? r.theory.lambda[b] : NAN) +
            ", \"eta\": " + observable(r.eta[b], r.theory_applies ? r.theory.eta[b] : NAN) + "}";
  }
  return text + "]";
}

}  // namespace attnsweep::app
