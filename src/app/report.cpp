#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "attnsweep/io/config.hpp"
#include "cli.hpp"

namespace attnsweep::app {

Cell Cell::real(double v) { return Cell{Kind::number, io::format_real(v), v, false}; }
Cell Cell::fixed(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return Cell{Kind::number, text, v, false};
}
Cell Cell::whole(long long v) { return Cell{Kind::integer, std::to_string(v), static_cast<double>(v), false}; }
Cell Cell::label(std::string s) { return Cell{Kind::text, std::move(s), 0, false}; }
Cell Cell::free_text(std::string s) { return Cell{Kind::text, std::move(s), 0, true}; }

Report::Report(std::string format, std::vector<Column> columns)
    : format_(std::move(format)), columns_(std::move(columns)) {
  if (format_ != "table" && format_ != "csv" && format_ != "json") {
    throw io::InputError("format must be table, csv or json, not '" + format_ + "'");
  }
  if (format_ == "json") {
    std::printf("[");
    return;
  }
  for (size_t c = 0, shown = 0; c < columns_.size(); ++c) {
    const Column& column = columns_[c];
    if (!shows(column)) continue;
    const bool first = shown++ == 0;
    if (format_ == "csv")
      std::printf("%s%s", first ? "" : ",", column.name.c_str());
    else
      std::printf(column.width > 0 ? "%s%*s" : "%s%-*s", first ? "" : " ", std::abs(column.width),
                  (column.table_name.empty() ? column.name : column.table_name).c_str());
  }
  std::printf("\n");
}

Report::~Report() {
  if (format_ == "json") std::printf("%s]\n", rows_ ? "\n" : "");
}

namespace {
std::string csv_text(const Cell& cell) {
  if (!cell.quoted) return cell.text;
  std::string quoted = cell.text;
  for (char& ch : quoted)
    if (ch == '"') ch = '\'';
  return "\"" + quoted + "\"";
}

std::string table_text(const Cell& cell, const Column& column) {
  if (cell.kind != Cell::Kind::number || column.table_digits < 0) return cell.text;
  char text[64];
  std::snprintf(text, sizeof text, "%.*g", column.table_digits, cell.number);
  return text;
}

std::string json_text(const Cell& cell) {
  switch (cell.kind) {
    case Cell::Kind::number:
      return json_number(cell.number);
    case Cell::Kind::integer:
      return cell.text;
    case Cell::Kind::text:
      break;
  }
  return json_string(cell.text);
}
}  // namespace

bool Report::shows(const Column& column) const {
  return column.shown == Column::everywhere || (column.shown == Column::table_only) == (format_ == "table");
}

void Report::row(const std::vector<Cell>& cells) {
  if (format_ == "json") std::printf("%s\n {", rows_ ? "," : "");
  for (size_t c = 0, shown = 0; c < columns_.size() && c < cells.size(); ++c) {
    const Column& column = columns_[c];
    if (!shows(column)) continue;
    const bool first = shown++ == 0;
    if (format_ == "csv") {
      std::printf("%s%s", first ? "" : ",", csv_text(cells[c]).c_str());
    } else if (format_ == "json") {
      std::printf("%s\"%s\": %s", first ? "" : ", ", column.name.c_str(), json_text(cells[c]).c_str());
    } else {
      const std::string text = table_text(cells[c], column);
      std::printf(column.width > 0 ? "%s%*s" : "%s%-*s", first ? "" : " ", std::abs(column.width), text.c_str());
    }
  }
  std::printf(format_ == "json" ? "}" : "\n");
  ++rows_;
}

}  // namespace attnsweep::app
