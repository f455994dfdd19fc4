#include "definitions/params.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "core/errors.h"

namespace wrsec::definitions {

const std::string* Params::find(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return nullptr;
  used_.insert(key);
  return &it->second;
}

double Params::get_double(const std::string& key, double fallback) const {
  const std::string* text = find(key);
  if (text == nullptr) return fallback;
  double value = 0.0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec == std::errc::result_out_of_range && ptr == end)
    throw InvalidArgument("parameter '" + key + "' is out of the range of a double, got '" + *text +
                          "'");
  if (ec != std::errc() || ptr != end || text->empty() || !std::isfinite(value))
    throw InvalidArgument("parameter '" + key + "' must be a finite number, got '" + *text + "'");
  return value;
}

std::int64_t Params::get_int(const std::string& key, std::int64_t fallback) const {
  const std::string* text = find(key);
  if (text == nullptr) return fallback;
  std::int64_t value = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec == std::errc::result_out_of_range && ptr == end)
    throw InvalidArgument("parameter '" + key + "' is out of range (at most " +
                          std::to_string(INT64_MAX) + " in magnitude), got '" + *text + "'");
  if (ec != std::errc() || ptr != end || text->empty())
    throw InvalidArgument("parameter '" + key + "' must be an integer, got '" + *text + "'");
  return value;
}

bool Params::get_bool(const std::string& key, bool fallback) const {
  const std::string* text = find(key);
  if (text == nullptr) return fallback;
  if (*text == "true" || *text == "1" || *text == "yes") return true;
  if (*text == "false" || *text == "0" || *text == "no") return false;
  throw InvalidArgument("parameter '" + key + "' must be true or false, got '" + *text + "'");
}

std::string Params::get_string(const std::string& key, const std::string& fallback) const {
  const std::string* text = find(key);
  return text == nullptr ? fallback : *text;
}

std::vector<double> Params::get_doubles(const std::string& key,
                                        const std::vector<double>& fallback) const {
  if (!contains(key)) return fallback;
  const std::string text = get_string(key, "");
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const Params one(std::map<std::string, std::string>{{key, item}});
    out.push_back(one.get_double(key, 0.0));
  }
  if (out.empty()) throw InvalidArgument("parameter '" + key + "' must be a list of numbers");
  return out;
}

void Params::reject_unused(const std::string& owner) const {
  for (const auto& [key, value] : values_) {
    if (used_.count(key) == 0)
      throw InvalidArgument("unknown parameter '" + key + "' for " + owner);
  }
}

std::string Params::canonical() const {
  std::string out;
  for (const auto& [key, value] : values_) {
    if (!out.empty()) out += ',';
    out += key + '=' + value;
  }
  return out;
}

std::uint64_t parse_unsigned(const std::string& what, const std::string& text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (!text.empty() && ptr == end && ec == std::errc()) return value;
  if (!text.empty() && ptr == end && ec == std::errc::result_out_of_range)
    throw InvalidArgument(what + " is out of range (at most " + std::to_string(UINT64_MAX) +
                          "), got '" + text + "'");
  throw InvalidArgument(what + " must be a non-negative integer, got '" + text + "'");
}

std::pair<std::string, std::string> parse_assignment(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InvalidArgument("expected key=value, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace wrsec::definitions
