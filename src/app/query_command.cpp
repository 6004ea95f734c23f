// `attnsweep query`: the cells (or the trials) of a sweep's file, filtered by axis values, as a
// table, CSV or JSON. One filter option per axis of any study (io/study_axes.hpp).
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "attnsweep/io/config.hpp"
#include "attnsweep/io/results_file.hpp"
#include "attnsweep/io/study_axes.hpp"
#include "attnsweep/sweep/grid.hpp"
#include "cli.hpp"
#include "commands.hpp"
#include "report.hpp"

namespace attnsweep::app {

namespace po = boost::program_options;
using io::InputError;

namespace {

// The items of a filter: `--rho 0.2 0.5`, `--rho 0.2,0.5` and `--rho 0.2, 0.5` alike.
std::vector<std::string> filter_items(const std::vector<std::string>& given) {
  std::vector<std::string> items;
  for (const std::string& item : given) {
    std::string text = item;
    for (char& ch : text)
      if (ch == ',') ch = ' ';
    std::istringstream in(text);
    std::string word;
    while (in >> word) items.push_back(word);
  }
  return items;
}

// The index of a filter item on the axis; InputError naming the option and listing the axis.
std::int64_t axis_index(const io::Axis& axis, const std::string& item) {
  const std::string option = "--" + axis.name;
  if (axis.kind == io::Axis::Kind::label) {
    if (const std::int64_t i = axis.find(item); i >= 0) return i;
  } else {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (end != item.c_str() + item.size() || !std::isfinite(v))
      throw InputError(option + ": '" + item + "' is not a number");
    if (axis.kind == io::Axis::Kind::integer && v != std::floor(v))
      throw InputError(option + ": '" + item + "' is not an integer");
    for (std::int64_t i = 0; i < axis.size(); ++i) {
      const double at = axis.values[static_cast<size_t>(i)];
      if (std::abs(at - v) <= 1e-9 * std::max(1.0, std::abs(v))) return i;
    }
  }
  std::string values;
  for (std::int64_t i = 0; i < axis.size() && i < 12; ++i) values += (i ? ", " : "") + axis.text(i);
  if (axis.size() > 12) values += ", ...";
  throw InputError(option + " " + item + " is not on the file's " + axis.name + " axis (" + values + ")");
}

// Per axis, the indices the filters keep (empty: every value).
using Keep = std::vector<std::set<std::int64_t>>;

bool kept(const Keep& keep, const std::vector<std::int64_t>& at) {
  for (size_t a = 0; a < keep.size(); ++a)
    if (!keep[a].empty() && !keep[a].count(at[a])) return false;
  return true;
}

// The columns that say where a cell is: its index and one per axis (gamma as computed: scaled
// by 1 / (1 - rho) under gamma-scale = critical).
std::vector<Column> place_columns(const std::vector<io::Axis>& axes) {
  std::vector<Column> columns = {{"cell", "", 7, -1}};
  const std::map<std::string, int> widths = {{"rho", 6}, {"gamma", 8}, {"d", 5}, {"n", 6}};
  for (const io::Axis& axis : axes) {
    const auto w = widths.find(axis.name);
    columns.push_back({axis.name, "", w == widths.end() ? 11 : w->second, 6});
  }
  return columns;
}

std::vector<Cell> place_cells(const sweep::Grid& grid, std::int64_t cell) {
  const std::vector<std::int64_t> at = grid.coordinates(cell);
  const mc::CellParams p = grid.cell(cell);
  std::vector<Cell> cells = {Cell::whole(cell), Cell::real(p.rho), Cell::real(p.gamma), Cell::whole(p.d),
                             Cell::whole(p.n)};
  for (size_t a = sweep::kFixedAxes; a < grid.axes().size(); ++a) {
    const io::Axis& axis = grid.axes()[a];
    const auto i = static_cast<size_t>(at[a]);
    if (axis.kind == io::Axis::Kind::label)
      cells.push_back(Cell::label(axis.labels[i]));
    else if (axis.kind == io::Axis::Kind::integer)
      cells.push_back(Cell::whole(static_cast<long long>(axis.values[i])));
    else
      cells.push_back(Cell::real(axis.values[i]));
  }
  return cells;
}

// "lambda_q05", "lambda_median", ...: a quantile's column.
std::string quantile_column(const char* observable, double level) {
  if (level == 0.5) return std::string(observable) + "_median";
  char name[32];
  std::snprintf(name, sizeof name, "%s_q%02d", observable, static_cast<int>(std::lround(level * 100)));
  return name;
}

// `query --trials`: one row per trial of every done cell in the box that the filters keep.
void print_trials(const sweep::Grid& grid, const io::CellBox& box, const std::vector<std::int64_t>& shape,
                  const Keep& keep, const io::SweepState& cells, const std::string& format) {
  std::vector<Column> columns = place_columns(grid.axes());
  columns.push_back({"trial", "", 6, -1});
  for (const mc::ObservableInfo& o : mc::kObservables) columns.push_back({o.name, "", 14, 8});
  Report report(format, columns);
  long unknown = 0;
  for (std::int64_t k = 0; k < box.size(); ++k) {
    const std::int64_t i = box.flat_index(k, shape);
    if (!kept(keep, grid.coordinates(i))) continue;
    const io::CellRecord r = cells.record(k);
    if (r.status != io::CellStatus::done && r.status != io::CellStatus::undefined) continue;
    if (!r.has_trial_values()) {
      ++unknown;
      continue;
    }
    const std::vector<Cell> place = place_cells(grid, i);
    for (size_t t = 0; t < static_cast<size_t>(r.trials); ++t) {
      std::vector<Cell> row = place;
      row.push_back(Cell::whole(static_cast<long long>(t)));
      for (const io::ObservableRecord& o : r.observables) row.push_back(Cell::real(o.trial[t]));
      report.row(row);
    }
  }
  if (unknown > 0) {
    std::fprintf(stderr, "attnsweep: %ld done cells have no per-trial values (computed by attnsweep 0.1)\n", unknown);
  }
}

// One row per cell: where it is, its status and its summaries.
void print_cells(const sweep::Grid& grid, const io::CellBox& box, const std::vector<std::int64_t>& shape,
                 const Keep& keep, const io::SweepState& cells, const std::string& format, const std::string& status) {
  const bool by_status = !status.empty();
  const io::CellStatus wanted = by_status ? io::parse_status(status) : io::CellStatus::missing;
  std::vector<Column> columns = place_columns(grid.axes());
  // The table shows each physics observable's median beside its mean; CSV and JSON keep their
  // first 14 columns (the layout of 0.2) and add the estimator's observables (the probes' error:
  // in eta's +- where it is the error) and every quantile after them.
  columns.insert(columns.end(), {{"status", "", 7, -1}, {"trials", "", 6, -1}});
  for (const mc::ObservableInfo& o : mc::kObservables) {
    const std::string name = o.name;
    if (o.decides_status)
      columns.insert(columns.end(), {{name + "_mean", name, 12, 6},
                                     {name + "_stderr", "+-", 10, 3},
                                     {name + "_median", "median", 12, 6, Column::table_only}});
  }
  columns.insert(columns.end(), {{"seconds", "", 8, -1}, {"attempts", "att", 3, -1}, {"error", "", -5, -1}});
  for (const mc::ObservableInfo& o : mc::kObservables) {
    const std::string name = o.name;
    if (!o.decides_status)
      columns.insert(columns.end(), {{name + "_mean", "", 12, 6, Column::data_only},
                                     {name + "_stderr", "", 10, 3, Column::data_only}});
  }
  for (const mc::ObservableInfo& o : mc::kObservables)
    for (const double level : mc::kQuantileLevels)
      columns.push_back({quantile_column(o.name, level), "", 12, 6, Column::data_only});
  for (const mc::ObservableInfo& o : mc::kObservables)
    columns.push_back({std::string(o.name) + "_defined", "", 6, -1, Column::data_only});
  // mc::heavy_tailed: the mean is dominated by a few trials (read the median).
  for (const mc::ObservableInfo& o : mc::kObservables)
    columns.push_back({std::string(o.name) + "_heavy_tail", "", 1, -1, Column::data_only});
  // mc::lambda_rounding_floor: the median lambda is rounding (the tokens collapsed within it).
  columns.push_back({"lambda_at_floor", "", 1, -1, Column::data_only});
  columns.push_back({"notes", "", -18, -1, Column::table_only});
  Report report(format, columns);
  for (std::int64_t k = 0; k < box.size(); ++k) {
    const std::int64_t i = box.flat_index(k, shape);
    if (!kept(keep, grid.coordinates(i))) continue;
    const io::CellRecord r = cells.record(k);
    if (by_status && r.status != wanted) continue;
    std::vector<Cell> row = place_cells(grid, i);
    row.insert(row.end(), {Cell::label(io::status_name(r.status)), Cell::whole(r.trials)});
    for (size_t o = 0; o < mc::kObservableCount; ++o) {
      const io::ObservableRecord& x = r.observables[o];
      if (mc::kObservables[o].decides_status)
        row.insert(row.end(), {Cell::real(x.mean), Cell::real(x.std_error), Cell::real(x.quantiles[2])});
    }
    row.insert(row.end(),
               {Cell::fixed(r.seconds, format == "table" ? 3 : 6), Cell::whole(r.attempts), Cell::free_text(r.error)});
    for (size_t o = 0; o < mc::kObservableCount; ++o) {
      const io::ObservableRecord& x = r.observables[o];
      if (!mc::kObservables[o].decides_status) row.insert(row.end(), {Cell::real(x.mean), Cell::real(x.std_error)});
    }
    for (const io::ObservableRecord& o : r.observables)
      for (const double value : o.quantiles) row.push_back(Cell::real(value));
    for (const io::ObservableRecord& o : r.observables) row.push_back(Cell::whole(o.defined));
    std::string notes;
    for (size_t o = 0; o < mc::kObservableCount; ++o) {
      const io::ObservableRecord& x = r.observables[o];
      const bool flag = mc::heavy_tailed(x.mean, x.std_error, x.defined, x.quantiles);
      row.push_back(Cell::whole(flag ? 1 : 0));
      if (flag) notes += (notes.empty() ? "" : ",") + std::string(mc::kObservables[o].name) + " heavy";
    }
    const mc::CellParams p = grid.cell(i);
    const bool at_floor = mc::lambda_at_floor(r.observables[mc::kLambda].quantiles[2], p.d, p.rho);
    row.push_back(Cell::whole(at_floor ? 1 : 0));
    if (at_floor) notes += (notes.empty() ? "" : ",") + std::string("lambda at floor");
    row.push_back(Cell::label(notes));
    report.row(row);
  }
}

}  // namespace

int query_command(const std::vector<std::string>& args) {
  std::string file, format = "table", status;
  std::map<std::string, std::vector<std::string>> filters;  // by axis name
  bool per_trial = false;
  po::options_description desc("attnsweep query options");
  desc.add_options()("file", po::value(&file)->required(), "HDF5 output");
  for (const char* axis : {"rho", "gamma", "d", "n"})
    desc.add_options()(axis, po::value(&filters[axis])->multitoken(),
                       (std::string("keep these ") + axis + " values").c_str());
  for (const std::string& name : io::sweepable_parameters())
    desc.add_options()(name.c_str(), po::value(&filters[name])->multitoken(),
                       ("keep these " + name + " values (a study that sweeps " + name + ")").c_str());
  desc.add_options()("status", po::value(&status), "missing | done | failed")(
      "format", po::value(&format)->default_value("table"), "table | csv | json")(
      "trials", po::bool_switch(&per_trial), "one row per trial of the done cells (lambda and eta of each trial)");
  po::positional_options_description positional;
  positional.add("file", 1);
  parse(args, desc, &positional);
  if (format != "table" && format != "csv" && format != "json") {
    throw InputError("format must be table, csv or json, not '" + format + "'");
  }
  if (!status.empty()) (void)io::parse_status(status);
  const io::ResultsReader reader(file);
  const sweep::Grid grid(reader.header().config);
  Keep keep(grid.axes().size());
  for (const auto& [name, given] : filters) {
    const std::vector<std::string> items = filter_items(given);
    if (items.empty()) continue;
    size_t a = 0;
    while (a < grid.axes().size() && grid.axes()[a].name != name) ++a;
    if (a == grid.axes().size())
      throw InputError("--" + name + ": " + file + " does not sweep " + name + " (every cell has its [mc] value)");
    for (const std::string& item : items) keep[a].insert(axis_index(grid.axes()[a], item));
  }
  // Read only the box that spans the filters (a hyperslab): a one-cell query costs one chunk
  // per dataset, whatever the size of the grid.
  io::CellBox box = reader.whole();
  for (size_t a = 0; a < keep.size(); ++a) {
    if (keep[a].empty()) continue;
    box.start[a] = *keep[a].begin();
    box.count[a] = *keep[a].rbegin() - *keep[a].begin() + 1;
  }
  if (per_trial && reader.trial_slots() == 0) {
    throw InputError(file + " has no per-trial values (written by attnsweep 0.1, or a grid of over " +
                     std::to_string(io::kMaxTrialValues) + " cells x trials)");
  }
  const unsigned fields = per_trial ? io::ResultsReader::kAll : io::ResultsReader::kAll & ~io::ResultsReader::kTrials;
  const io::SweepState cells = reader.read(box, fields);
  if (per_trial)
    print_trials(grid, box, reader.shape(), keep, cells, format);
  else
    print_cells(grid, box, reader.shape(), keep, cells, format, status);
  return 0;
}

}  // namespace attnsweep::app
