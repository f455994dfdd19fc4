#pragma once
// Row sinks: how a measurement's rows leave wrsec (the measurement counterpart of the cell
// reporters in experiments/sink.h). begin() once with the measurement's name, write() per row (a
// flat JSON object; nested values are written as JSON text), finish() at the end. File reporters
// appear only at finish(), complete (AtomicFile).
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace wrsec::studies {

class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void begin(const std::string& measurement) = 0;
  virtual void write(const nlohmann::json& row) = 0;
  virtual void finish() = 0;
};

// One JSON object per line, in order.
class JsonlRowSink final : public RowSink {
 public:
  explicit JsonlRowSink(std::filesystem::path path) : path_(std::move(path)) {}
  void begin(const std::string&) override {}
  void write(const nlohmann::json& row) override { text_ += row.dump() + "\n"; }
  void finish() override;

 private:
  std::filesystem::path path_;
  std::string text_;
};

// A table: one column per key (see row_columns), one line per row; values with a comma, quote or
// newline are quoted. Doubles keep 17 significant digits.
class CsvRowSink final : public RowSink {
 public:
  explicit CsvRowSink(std::filesystem::path path) : path_(std::move(path)) {}
  void begin(const std::string&) override {}
  void write(const nlohmann::json& row) override { rows_.push_back(row); }
  void finish() override;

 private:
  std::filesystem::path path_;
  std::vector<nlohmann::json> rows_;
};

// A Markdown table under a "### name (id)" heading, appended to a stream at finish(); the
// bookkeeping columns (measurement, unit, kind) are left out and doubles are rounded for people.
class MarkdownRowSink final : public RowSink {
 public:
  MarkdownRowSink(std::ostream& out, std::string id) : out_(out), id_(std::move(id)) {}
  void begin(const std::string& measurement) override { name_ = measurement; }
  void write(const nlohmann::json& row) override { rows_.push_back(row); }
  void finish() override;

 private:
  std::ostream& out_;
  std::string id_;
  std::string name_;
  std::vector<nlohmann::json> rows_;
};

class MultiRowSink final : public RowSink {
 public:
  void add(std::unique_ptr<RowSink> sink) { sinks_.push_back(std::move(sink)); }
  void begin(const std::string& measurement) override;
  void write(const nlohmann::json& row) override;
  void finish() override;

 private:
  std::vector<std::unique_ptr<RowSink>> sinks_;
};

// A value as a Markdown table cell: doubles as experiments::fmt rounds them for people, strings
// with '|' escaped.
std::string markdown_cell(const nlohmann::json& value);

// The columns of a set of rows: measurement, unit and kind first (when present), then every other
// key in lexicographic order; keys in `skip` are left out.
std::vector<std::string> row_columns(const std::vector<nlohmann::json>& rows,
                                     const std::vector<std::string>& skip = {});

}  // namespace wrsec::studies
