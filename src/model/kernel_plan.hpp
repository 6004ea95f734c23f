// Internal to model/: the tiled kernel's sizing rules (kernel_plan.cpp), used by the kernel
// (kernel.cpp) to size its caches and by kernel_cost to predict them.
#pragma once

#include <cstddef>

#include "attnsweep/model/kernel.hpp"

namespace attnsweep::model::kernel_plan {

// Rows of an n-column matrix (times `copies`) that fit in `bytes`, in whole blocks.
Eigen::Index cached_rows(Eigen::Index n, Eigen::Index copies, Eigen::Index block, std::size_t bytes);
std::size_t rows_bytes(Eigen::Index rows, Eigen::Index n, Eigen::Index copies);
// Columns of the packed quartic factor: d (d + 1) / 2.
Eigen::Index packed_width(Eigen::Index d);
// Columns of the quartic factor handled per GEMM (a thread's chunk stays a few MB).
Eigen::Index quartic_chunk_cols(Eigen::Index n, Eigen::Index width);
// Columns of the quartic factor (of `width`) that fit in `bytes`, in whole chunks.
Eigen::Index cached_quartic_cols(Eigen::Index n, Eigen::Index width, std::size_t bytes);
// The route with fewer flops per gamma for this shape and cache budget.
QuarticRoute cheaper_route(Eigen::Index n, Eigen::Index d, Eigen::Index block, std::size_t bytes);

}  // namespace attnsweep::model::kernel_plan
