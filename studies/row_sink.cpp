#include "studies/row_sink.h"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "experiments/report_format.h"

namespace wrsec::studies {
using nlohmann::json;

namespace {

std::string csv_value(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return experiments::csv_field(v.get<std::string>());
  if (!v.is_number_float()) return experiments::csv_field(v.dump());
  std::ostringstream out;
  out.precision(17);
  out << v.get<double>();
  return out.str();
}

}  // namespace

std::string markdown_cell(const json& v) {
  const std::string s = v.is_number_float() ? experiments::fmt(v.get<double>(), 4)
                        : v.is_string()     ? v.get<std::string>()
                                            : v.dump();
  std::string out;
  for (const char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::vector<std::string> row_columns(const std::vector<json>& rows,
                                     const std::vector<std::string>& skip) {
  std::vector<std::string> columns;
  std::set<std::string> seen(skip.begin(), skip.end());
  for (const char* lead : {"measurement", "unit", "kind"})
    if (!seen.count(lead) &&
        std::any_of(rows.begin(), rows.end(), [&](const json& r) { return r.contains(lead); })) {
      columns.emplace_back(lead);
      seen.insert(lead);
    }
  std::set<std::string> rest;
  for (const auto& r : rows)
    for (const auto& [k, v] : r.items())
      if (!seen.count(k)) rest.insert(k);
  columns.insert(columns.end(), rest.begin(), rest.end());
  return columns;
}

void JsonlRowSink::finish() {
  write_file_atomically(path_, text_);
}

void CsvRowSink::finish() {
  const auto columns = row_columns(rows_);
  std::string text;
  for (std::size_t i = 0; i < columns.size(); ++i) text += (i ? "," : "") + csv_value(columns[i]);
  text += "\n";
  for (const auto& r : rows_) {
    for (std::size_t i = 0; i < columns.size(); ++i)
      text += (i ? "," : "") + (r.contains(columns[i]) ? csv_value(r[columns[i]]) : "");
    text += "\n";
  }
  write_file_atomically(path_, text);
}

void MarkdownRowSink::finish() {
  out_ << "\n### " << name_ << " (" << id_ << ")\n\n";
  if (rows_.empty()) return;
  const auto columns = row_columns(rows_, {"measurement", "unit", "kind"});
  out_ << "|";
  for (const auto& c : columns) out_ << " " << c << " |";
  out_ << "\n|";
  for (std::size_t i = 0; i < columns.size(); ++i) out_ << "---|";
  out_ << "\n";
  for (const auto& r : rows_) {
    out_ << "|";
    for (const auto& c : columns) out_ << " " << (r.contains(c) ? markdown_cell(r[c]) : "") << " |";
    out_ << "\n";
  }
}

void MultiRowSink::begin(const std::string& measurement) {
  for (auto& s : sinks_) s->begin(measurement);
}
void MultiRowSink::write(const json& row) {
  for (auto& s : sinks_) s->write(row);
}
void MultiRowSink::finish() {
  for (auto& s : sinks_) s->finish();
}

}  // namespace wrsec::studies
