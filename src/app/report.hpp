// Tables, CSV and JSON for the commands that print rows (src/app only): one writer, so that a
// column is declared once and appears in all three formats alike.
#pragma once

#include <string>
#include <vector>

namespace attnsweep::app {

// One value of a row: its CSV/table text and how JSON writes it.
struct Cell {
  enum class Kind { number, integer, text } kind = Kind::text;
  std::string text;  // CSV and table (numbers at round-trip precision in CSV)
  double number = 0;
  bool quoted = false;  // CSV: in double quotes (free text)
  static Cell real(double v);
  static Cell fixed(double v, int decimals);  // "%.*f" in CSV and table, a number in JSON
  static Cell whole(long long v);
  static Cell label(std::string s);      // a word: never quoted in CSV
  static Cell free_text(std::string s);  // quoted in CSV (double quotes inside become single)
};

struct Column {
  std::string name;        // CSV and JSON
  std::string table_name;  // table header ("": the name)
  int width = 8;           // table column width, right-aligned (negative: left-aligned)
  int table_digits = -1;   // table: significant digits of a real (-1: its CSV text)
  enum Shown { everywhere, table_only, data_only } shown = everywhere;  // data: CSV and JSON
};

// Writes rows to standard output as a table, CSV (a header line) or a JSON array of objects.
class Report {
 public:
  // InputError unless `format` is table, csv or json.
  Report(std::string format, std::vector<Column> columns);
  ~Report();  // closes the JSON array
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;
  void row(const std::vector<Cell>& cells);
  long rows() const { return rows_; }

 private:
  bool shows(const Column& column) const;
  std::string format_;
  std::vector<Column> columns_;
  long rows_ = 0;
};

}  // namespace attnsweep::app
