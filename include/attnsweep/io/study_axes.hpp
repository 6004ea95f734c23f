// The axes of a study: rho, gamma, d and n always, then each model parameter the config sweeps
// (`alpha`, `layers`, `scaling`, `mask` or `position` given in [grid]; in [mc] they are scalars). One place that knows
// which parameters may be swept and how a value of each reaches a cell: the grid, the file
// writer and reader, `query`, growth and the messages all go through the axis list, so a new
// sweepable parameter is one entry in kSweptParameters (study_axes.cpp), not an edit of each.
//
// The flat cell index is C order over the axes in this order (rho, gamma, d, n, then the swept
// parameters in kSweptParameters order), which is also the order of the file's dimensions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnsweep/io/config.hpp"

namespace attnsweep::io {

struct Axis {
  std::string name;  // the config key in [grid] and the file's dimension and coordinate name
  enum class Kind { real, integer, label } kind = Kind::real;
  std::vector<double> values;       // real and integer axes (integers are exact in a double)
  std::vector<std::string> labels;  // label axes (a scaling law by name)
  std::int64_t size() const;
  std::string text(std::int64_t index) const;  // a value as a config would spell it
  // The index of the value a config spells `text`; -1 when the axis does not hold it.
  std::int64_t find(const std::string& text) const;
};

std::vector<Axis> study_axes(const SweepConfig& config);
// The product of the axes' sizes (as a double: checked against kMaxCells before it can overflow).
double cell_count(const SweepConfig& config);
// InputError (prefixed by `source_name`) unless the grid, every axis multiplied, has at most
// kMaxCells cells; the message gives each axis's size.
void require_cells_fit(const SweepConfig& config, const std::string& source_name);

// The swept parameters' [grid] texts, keyed by parameter name ("alpha", ...), as given; and
// whether the same parameter's [mc] scalar was given too (a parameter is swept or fixed, never
// both).
struct SweptText {
  std::string name, grid_text;
  bool mc_given = false;
};
// Parses and checks every swept parameter into `config` (its values checked by the same rule as
// the scalar). Throws InputError naming the key.
void parse_swept(const std::vector<SweptText>& texts, SweepConfig& config);
// The names of the parameters that may be swept, in axis order.
std::vector<std::string> sweepable_parameters();
// The [grid] lines of the swept parameters in the canonical config text ("" when none).
std::string swept_canonical_lines(const SweepConfig& config);
// Whether the [mc] scalar of `name` is replaced by an axis (then it is left out of the text).
bool is_swept(const SweepConfig& config, const std::string& name);

// A position bucket (model::parse_position's) must exist at the grid's largest n (at a smaller n a
// cell of it is undefined); whole and last always do. Throws InputError naming `key`.
void check_position(const std::string& key, int position, const SweepConfig& config);

// The rule of mc.layers (and of each value of grid.layers): 1..kMaxLayers, > 1 only with the
// Hutchinson estimator. Throws InputError naming `key`.
void check_layers(const std::string& key, long layers, mc::JacobianMethod jacobian);

// A sweepable parameter's values in `config`: its axis when swept, else its [mc] scalar as an axis
// of one value.
Axis parameter_values(const SweepConfig& config, const std::string& name);
// Copies a sweepable parameter (its scalar and its swept values) from one config to another.
void copy_parameter(const std::string& name, const SweepConfig& from, SweepConfig& to);

// Sets the cell's parameter of swept axis `axis` to its value `index`.
void apply_axis_value(const Axis& axis, std::int64_t index, mc::CellParams& cell);

}  // namespace attnsweep::io
