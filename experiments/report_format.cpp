#include "experiments/report_format.h"

#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

namespace wrsec::experiments {

std::string fmt(double v, int precision) {
  if (std::isnan(v)) return "–";
  std::ostringstream o;
  if (v != 0 && (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e5))
    o << std::scientific << std::setprecision(2) << v;
  else
    o << std::fixed << std::setprecision(precision) << v;
  return o.str();
}

std::string params_text(const CellSpec& cell) {
  std::string out;
  const auto add = [&](const char* component, const definitions::Params& p) {
    for (const auto& [k, v] : p.values())
      out += (out.empty() ? "" : " ") + std::string(component) + "." + k + "=" + v;
  };
  add("game", cell.game_params);
  add("scheme", cell.scheme_params);
  add("attack", cell.attack_params);
  return out;
}

double metric(const CellResult& r, const std::string& name, const char* which) {
  const auto it = r.counts.metrics.find(name);
  if (it == r.counts.metrics.end() || it->second.n == it->second.nonfinite)
    return std::numeric_limits<double>::quiet_NaN();
  const MetricSummary& m = it->second;
  const std::string w = which;
  return w == "mean" ? m.mean() : w == "min" ? m.min : m.max;
}

std::string tex_escape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool eq = i + 1 < s.size() && s[i + 1] == '=';
    if (c == '>' || c == '<') {  // OT1 text fonts have no < or > glyphs
      out += c == '>' ? (eq ? "$\\ge$" : "$>$") : (eq ? "$\\le$" : "$<$");
      if (eq) ++i;
    } else if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$' || c == '{' || c == '}') {
      out += '\\';
      out += c;
    } else if (c == '\\' || c == '^' || c == '~') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string md_cell(std::string s) {
  for (std::size_t at = s.find('|'); at != std::string::npos; at = s.find('|', at + 2))
    s.replace(at, 1, "\\|");
  return s;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace wrsec::experiments
