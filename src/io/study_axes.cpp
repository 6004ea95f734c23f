#include "attnsweep/io/study_axes.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "attnsweep/model/layer.hpp"
#include "config_text.hpp"

namespace attnsweep::io {

namespace {

// A model parameter that [grid] may sweep: how its axis is read from and written to a config,
// and how a value reaches a cell. The one list of them.
struct SweptParameter {
  const char* name;
  void (*parse)(const std::string& key, const std::string& text, SweepConfig& config);
  Axis (*axis)(const SweepConfig& config);  // an axis of size 0 when not swept
  void (*apply)(const Axis& axis, std::int64_t index, mc::CellParams& cell);
  Axis (*scalar)(const SweepConfig& config);               // the [mc] value as an axis of one value
  void (*copy)(const SweepConfig& from, SweepConfig& to);  // the scalar and the swept values
};

Axis real_axis(const char* name, const std::vector<double>& values) {
  Axis axis{name, Axis::Kind::real, values, {}};
  return axis;
}

Axis integer_axis(const char* name, const std::vector<long>& values) {
  return Axis{name, Axis::Kind::integer, {values.begin(), values.end()}, {}};
}

std::vector<std::string> split_labels(const std::string& key, const std::string& text) {
  std::vector<std::string> labels;
  size_t begin = 0;
  while (true) {
    const size_t comma = text.find(',', begin);
    const std::string item = trim(text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
    if (item.empty()) throw InputError(key + " = '" + trim(text) + "': an empty value in the list");
    if (std::find(labels.begin(), labels.end(), item) != labels.end())
      throw InputError(key + " = '" + trim(text) + "': repeated value " + item);
    labels.push_back(item);
    if (comma == std::string::npos) return labels;
    begin = comma + 1;
  }
}

// A label axis (scaling, mask): its values parsed by the parameter's own parser, errors named
// by the grid key; and the axis of their names.
template <class T>
std::vector<T> parse_label_axis(const std::string& key, const std::string& text, T (*parse)(const std::string&)) {
  std::vector<T> values;
  for (const std::string& label : split_labels(key, text)) {
    try {
      values.push_back(parse(label));
    } catch (const std::invalid_argument& e) {
      throw InputError("grid." + std::string(e.what()));
    }
  }
  return values;
}

template <class T>
Axis label_axis(const char* name, const std::vector<T>& values, const char* (*name_of)(T)) {
  Axis axis{name, Axis::Kind::label, {}, {}};
  for (const T& value : values) axis.labels.push_back(name_of(value));
  return axis;
}

// grid.position: whole, last and buckets, or `all` (whole and every bucket of the largest n).
std::vector<int> parse_position_axis(const std::string& key, const std::string& text, const SweepConfig& c) {
  if (trim(text) == "all") {
    std::vector<int> all = {model::kWholeSequence};
    for (int b = 0; b < model::position_buckets(*std::max_element(c.n.begin(), c.n.end())); ++b) all.push_back(b);
    return all;
  }
  std::vector<int> values;
  for (const std::string& label : split_labels(key, text)) {
    try {
      values.push_back(model::parse_position(label));
    } catch (const std::invalid_argument& e) {
      throw InputError(key + ": " + e.what() + " (or all)");
    }
    check_position(key, values.back(), c);
  }
  return values;
}

Axis position_axis(const std::vector<int>& values) {
  Axis axis{"position", Axis::Kind::label, {}, {}};
  for (int position : values) axis.labels.push_back(model::position_name(position));
  return axis;
}

// The list's order is the axes' order after the fixed four. The position comes last: the cells of
// one evaluation (every position of a gamma) are then adjacent (Grid::draw_group).
const SweptParameter kSweptParameters[] = {
    {"alpha",
     [](const std::string& key, const std::string& text, SweepConfig& c) {
       c.alpha_values = parse_real_axis(key, text);
     },
     [](const SweepConfig& c) { return real_axis("alpha", c.alpha_values); },
     [](const Axis& axis, std::int64_t i, mc::CellParams& cell) { cell.alpha = axis.values[static_cast<size_t>(i)]; },
     [](const SweepConfig& c) { return real_axis("alpha", {c.alpha}); },
     [](const SweepConfig& from, SweepConfig& to) {
       to.alpha = from.alpha;
       to.alpha_values = from.alpha_values;
     }},
    {"layers",
     [](const std::string& key, const std::string& text, SweepConfig& c) {
       c.layers_values = parse_integer_axis(key, text);
       for (long layers : c.layers_values) check_layers(key, layers, c.jacobian);
     },
     [](const SweepConfig& c) { return integer_axis("layers", c.layers_values); },
     [](const Axis& axis, std::int64_t i, mc::CellParams& cell) {
       cell.layers = static_cast<long>(axis.values[static_cast<size_t>(i)]);
     },
     [](const SweepConfig& c) { return integer_axis("layers", {c.layers}); },
     [](const SweepConfig& from, SweepConfig& to) {
       to.layers = from.layers;
       to.layers_values = from.layers_values;
     }},
    {"scaling",
     [](const std::string& key, const std::string& text, SweepConfig& c) {
       c.scaling_values = parse_label_axis(key, text, model::parse_scaling);
     },
     [](const SweepConfig& c) { return label_axis("scaling", c.scaling_values, model::scaling_name); },
     [](const Axis& axis, std::int64_t i, mc::CellParams& cell) {
       cell.scaling = model::parse_scaling(axis.labels[static_cast<size_t>(i)]);
     },
     [](const SweepConfig& c) {
       return Axis{"scaling", Axis::Kind::label, {}, {model::scaling_name(c.scaling)}};
     },
     [](const SweepConfig& from, SweepConfig& to) {
       to.scaling = from.scaling;
       to.scaling_values = from.scaling_values;
     }},
    {"mask",
     [](const std::string& key, const std::string& text, SweepConfig& c) {
       c.mask_values = parse_label_axis(key, text, model::parse_mask);
     },
     [](const SweepConfig& c) { return label_axis("mask", c.mask_values, model::mask_name); },
     [](const Axis& axis, std::int64_t i, mc::CellParams& cell) {
       cell.mask = model::parse_mask(axis.labels[static_cast<size_t>(i)]);
     },
     [](const SweepConfig& c) {
       return Axis{"mask", Axis::Kind::label, {}, {model::mask_name(c.mask)}};
     },
     [](const SweepConfig& from, SweepConfig& to) {
       to.mask = from.mask;
       to.mask_values = from.mask_values;
     }},
    {"position",
     [](const std::string& key, const std::string& text, SweepConfig& c) {
       c.position_values = parse_position_axis(key, text, c);
     },
     [](const SweepConfig& c) { return position_axis(c.position_values); },
     [](const Axis& axis, std::int64_t i, mc::CellParams& cell) {
       cell.position = model::parse_position(axis.labels[static_cast<size_t>(i)]);
     },
     [](const SweepConfig& c) { return position_axis({c.position}); },
     [](const SweepConfig& from, SweepConfig& to) {
       to.position = from.position;
       to.position_values = from.position_values;
     }},
};

const SweptParameter* swept_parameter(const std::string& name) {
  for (const SweptParameter& p : kSweptParameters)
    if (name == p.name) return &p;
  return nullptr;
}

}  // namespace

std::int64_t Axis::size() const {
  return static_cast<std::int64_t>(kind == Kind::label ? labels.size() : values.size());
}

std::string Axis::text(std::int64_t index) const {
  const auto i = static_cast<size_t>(index);
  switch (kind) {
    case Kind::label:
      return labels.at(i);
    case Kind::integer:
      return std::to_string(static_cast<long>(values.at(i)));
    case Kind::real:
      break;
  }
  return format_real(values.at(i));
}

std::int64_t Axis::find(const std::string& text) const {
  for (std::int64_t i = 0; i < size(); ++i)
    if (this->text(i) == text) return i;
  return -1;
}

std::vector<Axis> study_axes(const SweepConfig& c) {
  std::vector<Axis> axes = {real_axis("rho", c.rho), real_axis("gamma", c.gamma), integer_axis("d", c.d),
                            integer_axis("n", c.n)};
  for (const SweptParameter& p : kSweptParameters) {
    Axis axis = p.axis(c);
    if (axis.size() > 0) axes.push_back(std::move(axis));
  }
  return axes;
}

double cell_count(const SweepConfig& config) {
  double cells = 1;
  for (const Axis& axis : study_axes(config)) cells *= static_cast<double>(axis.size());
  return cells;
}

// The grid's cells, all axes multiplied, within kMaxCells.
void require_cells_fit(const SweepConfig& c, const std::string& source_name) {
  const double cells = cell_count(c);
  if (cells <= static_cast<double>(kMaxCells)) return;
  std::string sizes;
  for (const Axis& axis : study_axes(c)) sizes += (sizes.empty() ? "" : " x ") + std::to_string(axis.size());
  char msg[200];
  std::snprintf(msg, sizeof msg, "the grid has %.3g cells (%s); at most %.0e are allowed", cells, sizes.c_str(),
                static_cast<double>(kMaxCells));
  throw InputError(source_name + ": " + msg);
}

void parse_swept(const std::vector<SweptText>& texts, SweepConfig& config) {
  for (const SweptText& t : texts) {
    if (t.grid_text.empty()) continue;
    const std::string key = "grid." + t.name;
    if (t.mc_given) {
      throw InputError(key + " and mc." + t.name + " both given: a parameter is swept ([grid]) or fixed ([mc])");
    }
    swept_parameter(t.name)->parse(key, t.grid_text, config);
  }
}

std::vector<std::string> sweepable_parameters() {
  std::vector<std::string> names;
  for (const SweptParameter& p : kSweptParameters) names.push_back(p.name);
  return names;
}

std::string swept_canonical_lines(const SweepConfig& config) {
  std::string lines;
  for (const SweptParameter& p : kSweptParameters) {
    const Axis axis = p.axis(config);
    if (axis.size() == 0) continue;
    lines += std::string(p.name) + " = ";
    for (std::int64_t i = 0; i < axis.size(); ++i) lines += (i ? ", " : "") + axis.text(i);
    lines += "\n";
  }
  return lines;
}

bool is_swept(const SweepConfig& config, const std::string& name) {
  const SweptParameter* p = swept_parameter(name);
  return p != nullptr && p->axis(config).size() > 0;
}

void check_position(const std::string& key, int position, const SweepConfig& config) {
  const long longest = *std::max_element(config.n.begin(), config.n.end());
  const int buckets = model::position_buckets(longest);
  if (position >= buckets) {
    throw InputError(key + " = " + std::to_string(position) + ": no n of the grid reaches that bucket (n = " +
                     std::to_string(longest) + " has buckets 0.." + std::to_string(buckets - 1) + ")");
  }
}

void check_layers(const std::string& key, long layers, mc::JacobianMethod jacobian) {
  if (layers < 1 || layers > mc::kMaxLayers) {
    throw InputError(key + " = " + std::to_string(layers) + ": must be in [1, " + std::to_string(mc::kMaxLayers) + "]");
  }
  if (layers > 1 && jacobian != mc::JacobianMethod::hutchinson) {
    throw InputError(key + " = " + std::to_string(layers) +
                     ": needs mc.jacobian = hutchinson (the exact Jacobian norm is a one-layer formula)");
  }
}

Axis parameter_values(const SweepConfig& config, const std::string& name) {
  const SweptParameter* p = swept_parameter(name);
  if (p == nullptr) throw std::logic_error(name + " is not a sweepable parameter");
  Axis axis = p->axis(config);
  return axis.size() > 0 ? axis : p->scalar(config);
}

void copy_parameter(const std::string& name, const SweepConfig& from, SweepConfig& to) {
  const SweptParameter* p = swept_parameter(name);
  if (p == nullptr) throw std::logic_error(name + " is not a sweepable parameter");
  p->copy(from, to);
}

void apply_axis_value(const Axis& axis, std::int64_t index, mc::CellParams& cell) {
  const SweptParameter* p = swept_parameter(axis.name);
  if (p == nullptr) throw std::logic_error("axis " + axis.name + " is not a swept parameter");
  p->apply(axis, index, cell);
}

}  // namespace attnsweep::io
