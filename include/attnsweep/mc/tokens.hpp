// Token geometries of model/MODEL.md section 2.
#pragma once

#include <string>

#include "attnsweep/mc/rng.hpp"
#include "attnsweep/model/layer.hpp"

namespace attnsweep::mc {

enum class Geometry { gaussian, simplex };
const char* geometry_name(Geometry geometry);
Geometry parse_geometry(const std::string& text);  // throws std::invalid_argument

// gaussian: x_i = sqrt(rho) z_0 + sqrt(1 - rho) z_i, z ~ N(0, I_d / d), drawn z_0 first
// then z_1..z_n row by row. The draws do not depend on rho, so one stream gives the
// same z for every rho (common random numbers across the rho axis).
model::Matrix gaussian_tokens(long n, long d, double rho, RandomStream& stream);
void gaussian_tokens(long n, long d, double rho, RandomStream& stream, model::Matrix& out);  // into out

// simplex: x_i = sqrt(rho) e_0 + sqrt(1 - rho) e_{i+1}; |x_i| = 1 and <x_i, x_j> = rho exactly.
// Needs d >= n + 1. Deterministic: the layer is rotation-equivariant, so a random rotation
// would change nothing but the rounding.
model::Matrix simplex_tokens(long n, long d, double rho);
void simplex_tokens(long n, long d, double rho, model::Matrix& out);  // into out

// Rademacher probes, m blocks side by side: n x (m d), E[v v^T] = I.
model::Matrix rademacher_probes(long n, long d, long m, RandomStream& stream);
void rademacher_probes(long n, long d, long m, RandomStream& stream, model::Matrix& out);  // into out

}  // namespace attnsweep::mc
