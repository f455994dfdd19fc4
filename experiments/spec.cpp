#include "experiments/spec.h"

#include <algorithm>

#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/output_path.h"

namespace wrsec::experiments {
namespace {

namespace po = boost::program_options;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string unquote(const std::string& s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

bool parse_i64(const std::string& text, std::int64_t& out) {
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc() && p == end;
}

bool parse_double(const std::string& text, double& out) {
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc() && p == end && std::isfinite(out);
}

// Splits at commas outside quotes and parentheses.
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (const char c : text) {
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '(') ++depth;
    if (!quoted && c == ')') --depth;
    if (c == ',' && depth == 0 && !quoted) {
      items.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  items.push_back(trim(cur));
  return items;
}

std::string format_point(double x) {
  std::ostringstream out;
  out.precision(12);
  out << x;
  return out.str();
}

// Largest number of points of one range and of cells of one spec.
constexpr std::uint64_t kMaxPoints = 100000;
constexpr std::size_t kMaxCells = 100000;

// Expands "lo:step:hi" when all three parts are numbers; returns false for any other text.
// Integer ranges (all three parts integers) are checked, counted and stepped in integers, so
// they are exact over the whole int64 range; others in double, with a relative slack so that
// 0.45:0.05:0.6 includes 0.6.
bool expand_range(const std::string& key, const std::string& text, std::vector<std::string>& out) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(trim(part));
  if (parts.size() != 3) return false;
  double lo = 0, step = 0, hi = 0;
  if (!parse_double(parts[0], lo) || !parse_double(parts[1], step) || !parse_double(parts[2], hi))
    return false;
  const auto bad_range = [&] {
    return InvalidArgument("sweep key '" + key + "': bad range '" + text +
                           "' (lo:step:hi needs step > 0 and lo <= hi)");
  };
  const auto too_many = [&] {
    return InvalidArgument("sweep key '" + key + "': range '" + text + "' has more than " +
                           std::to_string(kMaxPoints) + " points");
  };
  std::int64_t ilo = 0, istep = 0, ihi = 0;
  if (parse_i64(parts[0], ilo) && parse_i64(parts[1], istep) && parse_i64(parts[2], ihi)) {
    if (istep <= 0 || ihi < ilo) throw bad_range();
    // hi - lo fits in uint64; point i is lo + i·step <= hi, computed modulo 2^64 (exact).
    const std::uint64_t span = static_cast<std::uint64_t>(ihi) - static_cast<std::uint64_t>(ilo);
    const std::uint64_t last = span / static_cast<std::uint64_t>(istep);
    if (last >= kMaxPoints) throw too_many();
    for (std::uint64_t i = 0; i <= last; ++i)
      out.push_back(std::to_string(static_cast<std::int64_t>(
          static_cast<std::uint64_t>(ilo) + i * static_cast<std::uint64_t>(istep))));
    return true;
  }
  if (!(step > 0) || hi < lo) throw bad_range();
  const double count = std::floor((hi - lo) / step * (1 + 1e-12) + 1e-9) + 1;
  if (!(count <= static_cast<double>(kMaxPoints))) throw too_many();
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(count); ++i)
    out.push_back(format_point(lo + static_cast<double>(i) * step));
  return true;
}

// The values of a sweep axis: a list "a, b, c" whose items may be quoted or (for a parameter
// axis) an inclusive range "lo:step:hi"; component axes ("attack") validate "id(k=v ...)".
std::vector<std::string> axis_values(const std::string& name, const std::string& value) {
  const bool component_axis = name.find('.') == std::string::npos;
  std::vector<std::string> values;
  for (const auto& item : split_list(value)) {
    if (item.empty())
      throw InvalidArgument("sweep key '" + name + "' has an empty value in '" + value + "'");
    if (component_axis || !expand_range(name, item, values)) values.push_back(unquote(item));
    if (component_axis) parse_component(name, item);  // validates syntax
  }
  return values;
}

bool is_component(const std::string& s) {
  return s == "game" || s == "scheme" || s == "attack";
}

std::string& id_of(CellSpec& cell, const std::string& component) {
  if (component == "game") return cell.game;
  if (component == "scheme") return cell.scheme;
  return cell.attack;
}

// Builds the error for a file: "<prefix>: what" (prefix "spec 'x'" or "config file 'x'").
struct Fail {
  std::string prefix;
  InvalidArgument operator()(const std::string& what) const {
    return InvalidArgument(prefix + ": " + what);
  }
};

// One "key = value" line of the INI grammar; a line in section [s] has key "s.name".
struct Entry {
  std::string key;
  std::string section;  // empty at top level
  std::string name;     // the key without its section
  std::string value;    // trimmed, never empty
};

// The text of a line in an error message: control bytes as \xNN.
std::string printable(const std::string& line) {
  std::string out;
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// The line grammar of Boost.Program_options' config files, checked before Boost parses the text:
// after cutting a '#' comment and trimming, a line is empty, "[section]" or "name = value".
// Boost's own error is never formatted: Boost 1.74 loops forever formatting one whose line
// contains its placeholder "%invalid_line%". "[]" is refused here too (Boost reads the last
// character of the empty section name).
void check_lines(const std::string& text, const Fail& fail) {
  std::istringstream in(text);
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '[' && line.back() == ']') {
      if (line.size() == 2) throw fail("line " + std::to_string(number) + ": empty section name");
      continue;
    }
    if (line.find('=') == std::string::npos)
      throw fail("line " + std::to_string(number) + " is neither 'key = value' nor '[section]': '" +
                 printable(line) + "'");
  }
}

// The value of an integer key; a value that is not one, or too large, fails naming the key.
std::uint64_t unsigned_key(const Entry& e, const Fail& fail) {
  try {
    return definitions::parse_unsigned("key '" + e.key + "'", e.value);
  } catch (const InvalidArgument& error) {
    throw fail(error.what());
  }
}

// The value of a key that must be at least 1.
std::uint64_t positive_key(const Entry& e, const Fail& fail) {
  const std::uint64_t value = unsigned_key(e, fail);
  if (value == 0)
    throw fail("key '" + e.key + "' must be a positive integer, got '" + e.value + "'");
  return value;
}

// Calls visit(entry) for each line of an INI text in file order, after checking that its key was
// not given before and has one non-empty value.
template <class Visit>
void for_each_entry(const std::string& text, const Fail& fail, const Visit& visit) {
  check_lines(text, fail);
  std::istringstream in(text);
  po::options_description none;
  po::parsed_options parsed(&none);
  try {
    parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
  } catch (const po::error&) {
    // Not reached after check_lines; what() is never called (see check_lines).
    throw fail("not an INI file of 'key = value' lines and [section] headers");
  }
  std::set<std::string> seen;
  for (const auto& option : parsed.options) {
    const std::string& key = option.string_key;
    if (!seen.insert(key).second) throw fail("key '" + key + "' is given twice");
    if (option.value.size() != 1) throw fail("key '" + key + "' needs exactly one value");
    const std::string value = trim(option.value.front());
    if (value.empty()) throw fail("key '" + key + "' has an empty value");
    const auto dot = key.find('.');
    visit(Entry{key, dot == std::string::npos ? "" : key.substr(0, dot),
                dot == std::string::npos ? key : key.substr(dot + 1), value});
  }
}

// What a spec and a single-cell config share: the component ids, trials, seed, alpha and the
// [game]/[scheme]/[attack] sections of fixed parameters.
struct CellKeys {
  CellSpec cell;
  std::optional<std::uint64_t> trials;
  std::optional<std::uint64_t> seed;
  std::optional<double> alpha;
};

// Reads a shared key into keys; false for a key the shared grammar does not know.
bool read_cell_key(const Entry& e, CellKeys& keys, const Fail& fail) {
  if (e.section.empty()) {
    if (is_component(e.key)) {
      id_of(keys.cell, e.key) = e.value;
    } else if (e.key == "trials") {
      keys.trials = positive_key(e, fail);
    } else if (e.key == "seed") {
      keys.seed = unsigned_key(e, fail);
    } else if (e.key == "alpha") {
      double alpha = 0;
      if (!parse_double(e.value, alpha) || !(alpha > 0 && alpha < 1))
        throw fail("key 'alpha' must lie in (0, 1), got '" + e.value + "'");
      keys.alpha = alpha;
    } else {
      return false;
    }
    return true;
  }
  if (!is_component(e.section)) return false;
  set_component_param(keys.cell, e.key, unquote(e.value));
  return true;
}

}  // namespace

std::pair<std::string, definitions::Params> parse_component(const std::string& key,
                                                            const std::string& text) {
  const auto open = text.find('(');
  if (open == std::string::npos) {
    if (text.find(')') != std::string::npos)
      throw InvalidArgument("sweep key '" + key + "': unbalanced parenthesis in '" + text + "'");
    return {text, {}};
  }
  if (text.back() != ')')
    throw InvalidArgument("sweep key '" + key + "': '" + text + "' must be id or id(k=v ...)");
  const std::string id = trim(text.substr(0, open));
  definitions::Params params;
  std::stringstream in(text.substr(open + 1, text.size() - open - 2));
  for (std::string assignment; in >> assignment;) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == assignment.size())
      throw InvalidArgument("sweep key '" + key + "': '" + assignment + "' in '" + text +
                            "' is not k=v");
    params.set(assignment.substr(0, eq), unquote(assignment.substr(eq + 1)));
  }
  if (id.empty()) throw InvalidArgument("sweep key '" + key + "': empty id in '" + text + "'");
  return {id, params};
}

const char* to_string(Correction c) {
  return c == Correction::bonferroni ? "bonferroni" : "none";
}

std::string read_text_file(const std::filesystem::path& path) {
  check_input_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument("cannot read '" + path.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json read_json_file(const std::filesystem::path& path, const std::string& what) {
  const std::string text = read_text_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(what + " '" + path.string() + "' is not JSON: " + e.what());
  }
}

ExperimentSpec ExperimentSpec::load(const std::filesystem::path& path) {
  return parse(read_text_file(path), path.string(), path.stem().string());
}

ExperimentSpec ExperimentSpec::parse(const std::string& text, const std::string& origin,
                                     const std::string& default_name) {
  const Fail fail{"spec '" + origin + "'"};
  ExperimentSpec spec;
  spec.name = default_name;
  CellKeys keys;
  std::set<std::string> seen;
  std::set<std::string> fixed;
  for_each_entry(text, fail, [&](const Entry& e) {
    seen.insert(e.key);
    if (read_cell_key(e, keys, fail)) {
      if (!e.section.empty()) fixed.insert(e.key);
    } else if (e.key == "name") {
      spec.name = e.value;
    } else if (e.key == "description") {
      spec.description = e.value;
    } else if (e.key == "correction") {
      if (e.value == "bonferroni") {
        spec.correction = Correction::bonferroni;
      } else if (e.value == "none") {
        spec.correction = Correction::none;
      } else {
        throw fail("key 'correction' must be bonferroni or none, got '" + e.value + "'");
      }
    } else if (e.key == "stop_when") {
      try {
        spec.stop = definitions::StopRule::parse(e.value);
      } catch (const InvalidArgument& error) {
        throw fail(std::string("key 'stop_when': ") + error.what());
      }
    } else if (e.key == "first_look") {
      spec.first_look = positive_key(e, fail);
    } else if (e.key == "batch") {
      spec.batch = positive_key(e, fail);
    } else if (e.section.empty()) {
      throw fail("unknown key '" + e.key + "'");
    } else if (e.section == "sweep") {
      const std::string& axis_key = e.name;
      const auto axis_dot = axis_key.find('.');
      const std::string component = axis_key.substr(0, axis_dot);
      if (!is_component(component) ||
          (axis_dot != std::string::npos && axis_dot + 1 == axis_key.size()))
        throw fail("unknown sweep key '" + axis_key +
                   "' (expected game, scheme, attack or game.KEY, scheme.KEY, attack.KEY)");
      SweepAxis axis;
      axis.key = axis_key;
      try {
        axis.values = axis_values(axis_key, e.value);
      } catch (const InvalidArgument& error) {
        throw fail(error.what());
      }
      spec.sweep.push_back(std::move(axis));
    } else {
      throw fail("unknown key '" + e.key + "' (sections: game, scheme, attack, sweep)");
    }
  });
  spec.base = std::move(keys.cell);
  if (keys.alpha) spec.alpha = *keys.alpha;
  for (const auto& axis : spec.sweep)
    if (fixed.count(axis.key) || (is_component(axis.key) && seen.count(axis.key)))
      throw fail("key '" + axis.key + "' is both fixed and swept");
  if (spec.base.game.empty() && !seen.count("sweep.game"))
    throw fail("missing required key 'game'");
  if (spec.base.attack.empty() && !seen.count("sweep.attack"))
    throw fail("missing required key 'attack'");
  if (!keys.trials) throw fail("missing required key 'trials'");
  if (!keys.seed) throw fail("missing required key 'seed'");
  spec.trials = *keys.trials;
  spec.seed = *keys.seed;
  if (spec.cell_count() > kMaxCells)
    throw fail("the sweep has more than " + std::to_string(kMaxCells) + " cells");
  return spec;
}

CellConfig CellConfig::parse(const std::string& text, const std::string& origin) {
  const Fail fail{"config file '" + origin + "'"};
  CellConfig config;
  CellKeys keys;
  for_each_entry(text, fail, [&](const Entry& e) {
    if (read_cell_key(e, keys, fail)) return;
    if (e.key == "first-trial") {
      config.first_trial = unsigned_key(e, fail);
    } else if (e.key == "threads") {
      const std::uint64_t thread_count = unsigned_key(e, fail);
      if (thread_count < 1 || thread_count > 1024)
        throw fail("key 'threads' must be an integer in [1, 1024], got '" + e.value + "'");
      config.threads = static_cast<int>(thread_count);
    } else if (e.key == "out") {
      config.out = e.value;
    } else if (e.section.empty()) {
      throw fail("unknown key '" + e.key + "'");
    } else {
      throw fail("unknown key '" + e.key + "' (sections: game, scheme, attack)");
    }
  });
  config.cell = std::move(keys.cell);
  config.trials = keys.trials;
  config.seed = keys.seed;
  config.alpha = keys.alpha;
  return config;
}

CellConfig CellConfig::load(const std::filesystem::path& path) {
  if (const auto problem = input_file_problem(path))
    throw InvalidArgument("cannot read config file '" + path.string() + "': " + *problem);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument("cannot read config file '" + path.string() + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

std::size_t ExperimentSpec::cell_count() const {
  std::size_t k = 1;
  for (const auto& axis : sweep)
    if (__builtin_mul_overflow(k, axis.values.size(), &k)) return SIZE_MAX;
  return k;
}

std::vector<CellSpec> ExperimentSpec::cells() const {
  if (cell_count() > kMaxCells)
    throw InvalidArgument("spec '" + name + "': the sweep has more than " +
                          std::to_string(kMaxCells) + " cells");
  std::vector<CellSpec> cells{base};
  for (const auto& axis : sweep) {
    const auto dot = axis.key.find('.');
    const std::string component = axis.key.substr(0, dot);
    std::vector<CellSpec> next;
    for (const auto& cell : cells)
      for (const auto& value : axis.values) {
        CellSpec c = cell;
        if (dot == std::string::npos) {
          auto [id, params] = parse_component(axis.key, value);
          id_of(c, component) = id;
          for (const auto& [k, v] : params.values()) set_component_param(c, component + "." + k, v);
        } else {
          set_component_param(c, axis.key, value);
        }
        next.push_back(std::move(c));
      }
    cells = std::move(next);
  }
  return cells;
}

double ExperimentSpec::alpha_per_cell() const {
  return correction == Correction::bonferroni ? definitions::bonferroni_alpha(alpha, cell_count())
                                              : alpha;
}

std::uint64_t ExperimentSpec::batch_size() const {
  if (batch > 0) return batch;
  // A sixteenth of the trials, but at least 16 (or all of them): a batch ends in a barrier, so
  // cells of a few expensive trials still keep many threads busy.
  return std::max<std::uint64_t>((trials + 15) / 16, std::min<std::uint64_t>(trials, 16));
}

void ExperimentSpec::restrict_axis(const std::string& key, const std::string& values) {
  const auto axis =
      std::find_if(sweep.begin(), sweep.end(), [&](const SweepAxis& a) { return a.key == key; });
  if (axis == sweep.end())
    throw InvalidArgument("spec '" + name + "' has no sweep axis '" + key + "' to restrict");
  std::vector<std::string> keep;
  for (const auto& v : axis_values(key, values)) {
    if (std::find(axis->values.begin(), axis->values.end(), v) == axis->values.end())
      throw InvalidArgument("spec '" + name + "': '" + v + "' is not a value of sweep axis '" +
                            key + "'");
    if (std::find(keep.begin(), keep.end(), v) == keep.end()) keep.push_back(v);
  }
  std::vector<std::string> ordered;  // the spec's order, so cells keep their relative order
  for (const auto& v : axis->values)
    if (std::find(keep.begin(), keep.end(), v) != keep.end()) ordered.push_back(v);
  axis->values = std::move(ordered);
}

}  // namespace wrsec::experiments
