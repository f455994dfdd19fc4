#pragma once
// Component parameters as given by the user: a flat map key → text, read through typed getters.
// Each getter records the key as used, so after a component is built every unused key can be
// rejected ("unknown parameter 'x' for game 'y'"): a misspelt parameter is an error, never silently
// ignored. Values are parsed strictly (the whole text must be consumed).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace wrsec::definitions {

class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  void set(const std::string& key, std::string value) { values_[key] = std::move(value); }
  [[nodiscard]] bool contains(const std::string& key) const { return values_.count(key) != 0; }
  [[nodiscard]] const std::map<std::string, std::string>& values() const { return values_; }

  // Typed getters: the default is returned when the key is absent; a present but malformed value
  // throws InvalidArgument naming the key.
  [[nodiscard]] double get_double(const std::string& key, double fallback) const;
  [[nodiscard]] std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  [[nodiscard]] bool get_bool(const std::string& key, bool fallback) const;
  [[nodiscard]] std::string get_string(const std::string& key, const std::string& fallback) const;
  // Comma-separated list of numbers, e.g. "1,2,4".
  [[nodiscard]] std::vector<double> get_doubles(const std::string& key,
                                                const std::vector<double>& fallback) const;

  // Throws InvalidArgument naming the first key no getter has read; owner is e.g. "game 'x'".
  void reject_unused(const std::string& owner) const;
  // Canonical text "k1=v1,k2=v2" (keys sorted), used in cell keys and result files.
  [[nodiscard]] std::string canonical() const;

 private:
  const std::string* find(const std::string& key) const;

  std::map<std::string, std::string> values_;
  mutable std::set<std::string> used_;
};

// Parses a decimal integer >= 0 written in digits only.
// @throws InvalidArgument "<what> must be a non-negative integer, got 'T'", or "<what> is out of
//         range (at most 18446744073709551615), got 'T'" for one that does not fit in 64 bits.
std::uint64_t parse_unsigned(const std::string& what, const std::string& text);

// Parses one "key=value" assignment (as given to --param); throws InvalidArgument otherwise.
std::pair<std::string, std::string> parse_assignment(const std::string& text);

}  // namespace wrsec::definitions
