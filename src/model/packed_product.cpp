#include "packed_product.hpp"

#include <algorithm>
#include <stdexcept>

namespace attnsweep::model {

namespace {
namespace ei = Eigen::internal;
using Index = Eigen::Index;
// Eigen's own choices for double x double on this build's vector width (as its GEMM makes them).
using Traits = ei::gebp_traits<double, double>;
using ColMapper = ei::const_blas_data_mapper<double, Index, Eigen::ColMajor>;
using RowMapper = ei::const_blas_data_mapper<double, Index, Eigen::RowMajor>;
using ResultMapper = ei::blas_data_mapper<double, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;

// Eigen computes a row-major C = X B as the column-major C^T = B^T X^T: B^T is the packed left
// operand (column-major when B is a row-major M, row-major when B = M^T), X^T the right one.
template <int Order, class Mapper>
void pack_panels(const double* data, Index stride, Index width, Index depth, Index mc, Index kc, double* out) {
  ei::gemm_pack_lhs<double, Index, Mapper, Traits::mr, Traits::LhsProgress, Traits::LhsPacket4Packing, Order> pack;
  const Mapper lhs(data, stride);
  for (Index i2 = 0; i2 < width; i2 += mc) {
    const Index rows = std::min(mc, width - i2);
    for (Index k2 = 0; k2 < depth; k2 += kc) {
      const Index cols = std::min(kc, depth - k2);
      pack(out, lhs.getSubMapper(i2, k2), cols, rows);
      out += rows * cols;
    }
  }
}
}  // namespace

void PackedRight::pack(const ConstStrided& M, bool transposed, Index max_rows) {
  depth_ = transposed ? M.cols() : M.rows();
  width_ = transposed ? M.rows() : M.cols();
  if (depth_ == 0 || width_ == 0) throw std::logic_error("PackedRight: an empty operand");
  kc_ = depth_;
  mc_ = width_;
  nc_ = std::max<Index>(1, max_rows);
  ei::computeProductBlockingSizes<double, double>(kc_, mc_, nc_, Index{1});
  panels_.resize(width_ * depth_);
  if (transposed) {
    // B^T = M, row-major m x k.
    pack_panels<Eigen::RowMajor, RowMapper>(M.data(), M.outerStride(), width_, depth_, mc_, kc_, panels_.data());
  } else {
    // B^T = M^T, column-major m x k with M's row stride.
    pack_panels<Eigen::ColMajor, ColMapper>(M.data(), M.outerStride(), width_, depth_, mc_, kc_, panels_.data());
  }
}

void PackedRight::multiply(const ConstStrided& X, Strided C, bool accumulate) const {
  const Index rows = X.rows(), depth = X.cols();
  if (depth > depth_ || depth == 0 || C.rows() != rows || C.cols() != width_) {
    throw std::logic_error("PackedRight::multiply: operands of the wrong shape");
  }
  if (!accumulate) C.setZero();
  if (rows == 0) return;
  ei::gemm_pack_rhs<double, Index, ColMapper, Traits::nr, Eigen::ColMajor> pack_rows;
  ei::gebp_kernel<double, double, Index, ResultMapper, Traits::mr, Traits::nr, false, false> micro_kernel;
  const ColMapper right(X.data(), X.outerStride());  // X^T, column-major k x rows
  const ResultMapper result(C.data(), C.outerStride());
  // X's packed panel: one per thread, sized once (the products run inside the kernel's team).
  thread_local Eigen::VectorXd packed_rows;
  const Index nc = std::min(nc_, rows);
  if (packed_rows.size() < kc_ * nc) packed_rows.resize(kc_ * nc);
  for (Index k2 = 0; k2 < depth; k2 += kc_) {
    // X may have fewer columns than B rows (a causal block's keys): the top rows of B, the packed
    // panels read to that depth (the micro-kernel's stride is the panel's packed depth).
    const Index packed_kc = std::min(kc_, depth_ - k2), kc = std::min(kc_, depth - k2);
    for (Index j2 = 0; j2 < rows; j2 += nc) {
      const Index cols = std::min(nc, rows - j2);
      pack_rows(packed_rows.data(), right.getSubMapper(k2, j2), kc, cols);
      // B's panels of this k2, for every row panel i2 of B^T (offsets as pack() laid them out).
      const double* panel = panels_.data();
      for (Index i2 = 0; i2 < width_; i2 += mc_) {
        const Index mc = std::min(mc_, width_ - i2);
        panel += mc * k2;  // the panels of k < k2 in this row panel
        micro_kernel(result.getSubMapper(i2, j2), panel, packed_rows.data(), mc, kc, cols, 1.0, packed_kc, kc);
        panel += mc * (depth_ - k2);  // this panel and the rest of the row panel
      }
    }
  }
}

}  // namespace attnsweep::model
