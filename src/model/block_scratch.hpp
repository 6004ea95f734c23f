// The tiled kernel's per-thread scratch (internal to the model floor): kernel.cpp's passes and
// kernel_angles.cpp's lambda pass share it.
#pragma once

#include "attnsweep/model/kernel.hpp"

namespace attnsweep::model {

// A thread's matrices for one block, sized on first use and kept (B x n unless noted).
struct TiledLayer::BlockScratch {
  Matrix G, A, S, W;     // Gram rows, softmax rows, products (S or H), A o G
  Matrix xbar, WY, out;  // B x d, B x d, B x m d
  Matrix factor, tile;   // a recomputed quartic chunk (n x C) and A times it (B x C)
  Vector T1;
  Vector ratio;  // lambda's pair ratios of one row
};

}  // namespace attnsweep::model
