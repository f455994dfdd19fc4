#include "definitions/sequential.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>

#include "core/errors.h"

namespace wrsec::definitions {

StopRule StopRule::parse(const std::string& text) {
  std::string s;
  for (const char c : text)
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  if (s == "none" || s.empty()) return {};
  const auto bad = [&] {
    return InvalidArgument("stop rule '" + text + "' must be none, lower>X or upper<Y");
  };
  StopRule rule;
  std::string number;
  if (s.rfind("lower>", 0) == 0) {
    rule.kind = Kind::lower_above;
    number = s.substr(6);
  } else if (s.rfind("upper<", 0) == 0) {
    rule.kind = Kind::upper_below;
    number = s.substr(6);
  } else {
    throw bad();
  }
  std::size_t used = 0;
  try {
    rule.threshold = std::stod(number, &used);
  } catch (const std::exception&) {
    throw bad();
  }
  if (used != number.size() || !std::isfinite(rule.threshold)) throw bad();
  // Advantages lie in [-1, 1]: outside these ranges a rule would never or always hold.
  const double x = rule.threshold;
  if (rule.kind == Kind::lower_above && !(x >= -1.0 && x < 1.0))
    throw InvalidArgument("stop rule '" + text +
                          "': X must lie in [-1, 1) (an advantage lies in [-1, 1], so lower>X "
                          "would never or always hold)");
  if (rule.kind == Kind::upper_below && !(x > -1.0 && x <= 1.0))
    throw InvalidArgument("stop rule '" + text +
                          "': Y must lie in (-1, 1] (an advantage lies in [-1, 1], so upper<Y "
                          "would never or always hold)");
  return rule;
}

std::string StopRule::to_string() const {
  if (kind == Kind::never) return "none";
  char number[64];
  const auto end = std::to_chars(number, number + sizeof(number), threshold).ptr;  // shortest
  return std::string(kind == Kind::lower_above ? "lower>" : "upper<") + std::string(number, end);
}

bool StopRule::met(const AdvantageBounds& bounds) const {
  switch (kind) {
    case Kind::never:
      return false;
    case Kind::lower_above:
      return bounds.lower > threshold;
    case Kind::upper_below:
      return bounds.upper < threshold;
  }
  return false;
}

std::vector<std::uint64_t> checkpoint_schedule(std::uint64_t first_look, std::uint64_t budget) {
  if (first_look < 1) throw InvalidArgument("the first look must be at least 1 trial");
  if (budget < 1) throw InvalidArgument("the trial budget must be at least 1");
  std::vector<std::uint64_t> looks;
  for (std::uint64_t n = first_look; n < budget; n *= 2) {
    looks.push_back(n);
    if (n > budget / 2) break;  // the next doubling would pass the budget (and cannot overflow)
  }
  looks.push_back(budget);
  return looks;
}

double spent_alpha(double alpha, std::size_t look) {
  if (!(alpha > 0.0 && alpha < 1.0)) throw InvalidArgument("alpha must lie in (0, 1)");
  const double k = static_cast<double>(look);
  return alpha / ((k + 1.0) * (k + 2.0));
}

AdvantageBounds advantage_bounds(GameShape shape, std::uint64_t wins, std::uint64_t n, double alpha,
                                 double baseline) {
  return shape == GameShape::distinguishing ? distinguishing_advantage(wins, n, alpha)
                                            : search_advantage(wins, n, alpha, baseline);
}

std::string describe_alpha_spending(std::uint64_t first_look) {
  return "checkpoint alpha-spending: looks at n_k = " + std::to_string(first_look) +
         "*2^k and at the budget, look k at alpha_k = alpha/((k+1)(k+2)) (union bound, sum < "
         "alpha)";
}

}  // namespace wrsec::definitions
