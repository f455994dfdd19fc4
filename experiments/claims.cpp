#include "experiments/claims.h"

#include <fnmatch.h>

#include <algorithm>

#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/output_path.h"
#include "experiments/report_format.h"

namespace wrsec::experiments {
using nlohmann::json;

namespace {

// The files under dir that match a relative path whose components may hold shell wildcards
// (fnmatch), in lexicographic order; a path without wildcards is returned as it is.
std::vector<std::filesystem::path> expand_source(const std::filesystem::path& dir,
                                                 const std::string& pattern) {
  if (pattern.find_first_of("*?[") == std::string::npos) return {dir / pattern};
  std::vector<std::filesystem::path> found = {dir};
  for (const auto& part : std::filesystem::path(pattern)) {
    std::vector<std::filesystem::path> next;
    for (const auto& base : found) {
      if (part.string().find_first_of("*?[") == std::string::npos) {
        next.push_back(base / part);
        continue;
      }
      if (!std::filesystem::is_directory(base)) continue;
      std::vector<std::filesystem::path> matches;
      for (const auto& entry : std::filesystem::directory_iterator(base))
        if (::fnmatch(part.c_str(), entry.path().filename().c_str(), FNM_PERIOD) == 0)
          matches.push_back(entry.path());
      std::sort(matches.begin(), matches.end());
      next.insert(next.end(), matches.begin(), matches.end());
    }
    found = std::move(next);
  }
  std::vector<std::filesystem::path> files;
  for (auto& f : found)
    if (std::filesystem::is_regular_file(f)) files.push_back(std::move(f));
  return files;
}

std::vector<json> read_json_lines_matching(const std::filesystem::path& dir,
                                           const std::string& pattern) {
  std::vector<json> rows;
  for (const auto& path : expand_source(dir, pattern))
    for (auto& row : read_json_lines(path)) rows.push_back(std::move(row));
  return rows;
}

std::optional<double> as_number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    const double x = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return x;
  }
  return std::nullopt;
}

bool equal(const json& a, const json& b) {
  if (a == b) return true;
  const auto x = as_number(a), y = as_number(b);
  return x && y && *x == *y;
}

bool matches(const json& actual, const json& condition) {
  if (condition.is_array()) {
    for (const auto& c : condition)
      if (equal(actual, c)) return true;
    return false;
  }
  if (condition.is_object()) {
    for (const auto& [op, operand] : condition.items()) {
      if (op == "not") {
        if (matches(actual, operand)) return false;
        continue;
      }
      const auto x = as_number(actual), y = as_number(operand);
      if (!x || !y) return false;
      if (op == ">=" && !(*x >= *y)) return false;
      if (op == "<=" && !(*x <= *y)) return false;
      if (op == ">" && !(*x > *y)) return false;
      if (op == "<" && !(*x < *y)) return false;
    }
    return true;
  }
  return equal(actual, condition);
}

}  // namespace

json json_at(const json& j, const std::string& path) {
  const json* at = &j;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '.');) {
    if (!at->is_object() || !at->contains(part)) return nullptr;
    at = &(*at)[part];
  }
  return *at;
}

std::vector<json> read_json_lines(const std::filesystem::path& path) {
  check_input_file(path);
  std::ifstream in(path);
  if (!in) throw InvalidArgument("cannot read '" + path.string() + "'");
  std::vector<json> rows;
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    try {
      rows.push_back(json::parse(line));
    } catch (const json::exception& e) {
      throw InvalidArgument("'" + path.string() + "' line " + std::to_string(number) +
                            " is not JSON: " + e.what());
    }
  }
  return rows;
}

Claim Claim::from_json(const json& j) {
  Claim c;
  const std::string id = j.is_object() ? j.value("id", std::string("?")) : "?";
  const auto fail = [&](const std::string& what) {
    return InvalidArgument("claim '" + id + "': " + what);
  };
  if (!j.is_object()) throw fail("must be a JSON object");
  static const std::set<std::string> known = {
      "id",     "text",      "source",   "where",    "value", "aggregate", "require",
      "target", "tolerance", "min_rows", "profiles", "macro", "digits"};
  for (const auto& [key, v] : j.items())
    if (!known.count(key)) throw fail("unknown key '" + key + "'");
  try {
    for (const char* key : {"id", "text", "source", "value", "target"})
      if (!j.contains(key)) throw fail(std::string("missing required key '") + key + "'");
    c.id = j.at("id").get<std::string>();
    c.text = j.at("text").get<std::string>();
    const json& source = j.at("source");
    if (source.is_string()) {
      c.sources = {source.get<std::string>()};
    } else {
      c.sources = source.get<std::vector<std::string>>();
      if (c.sources.empty()) throw fail("key 'source' must not be an empty list");
    }
    c.value = j.at("value").get<std::string>();
    c.target = j.at("target").get<double>();
    c.where = j.value("where", json::object());
    c.aggregate = j.value("aggregate", c.aggregate);
    c.require = j.value("require", c.require);
    c.tolerance = j.value("tolerance", 0.0);
    c.min_rows = j.value("min_rows", std::size_t{1});
    c.profiles = j.value("profiles", std::vector<std::string>{});
    c.macro = j.value("macro", std::string());
    c.digits = j.value("digits", 4);
  } catch (const json::exception& e) {
    throw fail(std::string("malformed value: ") + e.what());
  }
  if (!c.where.is_object()) throw fail("key 'where' must be an object");
  if (c.aggregate != "each" && c.aggregate != "min" && c.aggregate != "max" &&
      c.aggregate != "mean" && c.aggregate != "count")
    throw fail("key 'aggregate' must be each, min, max, mean or count, got '" + c.aggregate + "'");
  if (c.require != ">=" && c.require != "<=" && c.require != "==")
    throw fail("key 'require' must be >=, <= or ==, got '" + c.require + "'");
  if (!(c.tolerance >= 0)) throw fail("key 'tolerance' must be >= 0");
  for (const char ch : c.macro)
    if (!std::isalpha(static_cast<unsigned char>(ch)))
      throw fail("key 'macro' must be letters only (a LaTeX command name), got '" + c.macro + "'");
  return c;
}

bool Claim::applies_to(const std::string& profile) const {
  if (profiles.empty()) return true;
  for (const auto& p : profiles)
    if (p == profile) return true;
  return false;
}

std::string Claim::statement() const {
  std::ostringstream out;
  out << aggregate << " " << value << " " << require << " " << target;
  if (tolerance > 0) out << " (tolerance " << tolerance << ")";
  out << " over >= " << min_rows << " row(s) of ";
  for (std::size_t i = 0; i < sources.size(); ++i) out << (i ? ", " : "") << sources[i];
  return out.str();
}

ClaimOutcome evaluate_claim(const Claim& claim, const std::filesystem::path& dir) {
  ClaimOutcome o;
  o.id = claim.id;
  std::vector<json> rows;
  try {
    for (const auto& source : claim.sources)
      for (auto& row : read_json_lines_matching(dir, source)) {
        bool keep = true;
        for (const auto& [path, condition] : claim.where.items())
          keep = keep && matches(json_at(row, path), condition);
        if (keep) rows.push_back(std::move(row));
      }
  } catch (const InvalidArgument& e) {
    o.problem = e.what();
    return o;
  }
  o.rows = rows.size();
  if (rows.size() < claim.min_rows) {
    o.problem = "matched " + std::to_string(rows.size()) + " row(s), need at least " +
                std::to_string(claim.min_rows);
    return o;
  }
  const auto passes = [&](double x) {
    if (claim.require == ">=") return x >= claim.target - claim.tolerance;
    if (claim.require == "<=") return x <= claim.target + claim.tolerance;
    return std::fabs(x - claim.target) <= claim.tolerance;
  };
  if (claim.aggregate == "count") {
    o.measured = static_cast<double>(rows.size());
  } else {
    double sum = 0;
    std::optional<double> chosen;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto x = as_number(json_at(rows[i], claim.value));
      const std::string name = rows[i].contains("cell") && rows[i]["cell"].is_string()
                                   ? rows[i]["cell"].get<std::string>()
                                   : "row " + std::to_string(i);
      if (!x || !std::isfinite(*x)) {
        o.problem = "'" + claim.value + "' is not a finite number in " + name;
        return o;
      }
      sum += *x;
      bool take = !chosen;
      if (chosen) {
        if (claim.aggregate == "min") take = *x < *chosen;
        if (claim.aggregate == "max") take = *x > *chosen;
        if (claim.aggregate == "each") {
          // The worst row for the comparison decides.
          if (claim.require == ">=") take = *x < *chosen;
          if (claim.require == "<=") take = *x > *chosen;
          if (claim.require == "==")
            take = std::fabs(*x - claim.target) > std::fabs(*chosen - claim.target);
        }
      }
      if (take) {
        chosen = *x;
        o.witness = name;
      }
    }
    o.measured = claim.aggregate == "mean" ? sum / static_cast<double>(rows.size()) : *chosen;
    if (claim.aggregate == "mean") o.witness.clear();
  }
  o.met = passes(*o.measured);
  if (!o.met)
    o.problem = "measured " + fmt(*o.measured, 6) + ", required " + claim.require + " " +
                fmt(claim.target, 6);
  return o;
}

json ClaimOutcome::to_json(const Claim& claim) const {
  return {{"schema", "wrsec.claim_outcome.v1"},
          {"id", id},
          {"text", claim.text},
          {"statement", claim.statement()},
          {"met", met},
          {"rows", rows},
          {"measured", measured ? json(*measured) : json(nullptr)},
          {"target", claim.target},
          {"require", claim.require},
          {"tolerance", claim.tolerance},
          {"witness", witness},
          {"problem", problem}};
}

}  // namespace wrsec::experiments
