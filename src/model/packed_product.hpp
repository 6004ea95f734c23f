// Products C = X B whose right operand B is shared by many of them (internal to the model floor).
// Eigen packs B again into its GEMM panels in every product: for a trial's row blocks and gammas
// that is the same Y (or Y^T, dY, ...) packed dozens of times, 6-10% of a d = 512 trial. A
// PackedRight packs B once (per token draw) and multiplies any number of row blocks X with it
// through Eigen's own micro-kernel (gebp), packing only X.
//
// The sums: every element of C adds its k-panels (kc of B's rows each) in ascending order, each
// panel's products in the micro-kernel's order; kc and the panels depend on B's shape and the
// kernel's block rows only, never on threads or on X: results are bitwise reproducible
// (kernel version 2; they differ from an Eigen product of the same operands in the last bits).
#pragma once

#include <Eigen/Core>

#include "attnsweep/model/layer.hpp"

namespace attnsweep::model {

class PackedRight {
 public:
  using Index = Eigen::Index;
  using ConstStrided = Eigen::Ref<const Matrix, 0, Eigen::OuterStride<>>;
  using Strided = Eigen::Ref<Matrix, 0, Eigen::OuterStride<>>;

  // B = M (transposed false: M is k x m) or B = M^T (true: M is m x k); max_rows: the most rows
  // an X will have (the kernel's block rows), which sets the panels' sizes.
  void pack(const ConstStrided& M, bool transposed, Index max_rows);
  bool empty() const { return depth_ == 0; }
  void clear() { depth_ = width_ = 0; }   // empty again, its memory kept for the next pack
  Index depth() const { return depth_; }  // k
  Index width() const { return width_; }  // m

  // C = X B (accumulate false) or C += X B; X is rows x k', C rows x m, rows <= max_rows; with
  // k' < k, B's first k' rows (a causal block's keys).
  void multiply(const ConstStrided& X, Strided C, bool accumulate) const;

 private:
  Index depth_ = 0, width_ = 0, kc_ = 0, mc_ = 0, nc_ = 0;
  Eigen::VectorXd panels_;  // B's panels as Eigen's GEMM packs its left operand, [i2][k2] in order
};

}  // namespace attnsweep::model
