// Fuzzes `--param` values. The first three bytes choose a game, a scheme and an adversary among
// the registered components (255: bernoulli_ind, none, likelihood_ratio); the rest is one
// "key=value" assignment per line (definitions::parse_assignment). The assignments are read through
// every typed getter of definitions::Params (get_int, get_double, get_bool, get_string, the
// get_doubles list), and then, as `wrsec run` does, set on the cell
// (experiments::set_component_param; lines game=, scheme= and attack= override the chosen ids),
// whose components are built and checked against each other (experiments::instantiate: every
// component's parameter parsing and validation). Values naming a model file ("file:") are skipped:
// reading files is the safetensors harness's part.
#include <string>
#include <utility>
#include <vector>

#include "definitions/params.h"
#include "experiments/catalog.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace wrsec;

void read_every_way(const definitions::Params& params) {
  for (const auto& entry : params.values()) {
    const std::string& key = entry.first;  // a variable, not a binding: lambdas capture it
    fuzz::expect_valid_or_rejected([&] {
      const std::int64_t v = params.get_int(key, 0);
      // An integer up to 2^53 also reads as the same double.
      if (v >= -(std::int64_t{1} << 53) && v <= (std::int64_t{1} << 53) &&
          params.get_double(key, 0.5) != static_cast<double>(v))
        std::abort();
    });
    fuzz::expect_valid_or_rejected([&] { (void)params.get_double(key, 0.0); });
    fuzz::expect_valid_or_rejected([&] { (void)params.get_bool(key, false); });
    fuzz::expect_valid_or_rejected([&] { (void)params.get_doubles(key, {}); });
    if (params.get_string(key, "") != entry.second) std::abort();
  }
  params.reject_unused("fuzz");  // every key was read: must not throw
  (void)params.canonical();
}

// The id at `index` (modulo the count) of a registry; `fallback` for 255.
template <class T>
std::string pick(const definitions::Registry<T>& registry, std::uint8_t index,
                 const std::string& fallback) {
  const auto entries = registry.entries();
  return index == 255 || entries.empty() ? fallback : entries[index % entries.size()]->id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const auto& catalog = experiments::Catalog::global();
  experiments::CellSpec cell;
  cell.game = pick(catalog.games, data[0], "bernoulli_ind");
  cell.scheme = pick(catalog.schemes, data[1], experiments::kNoScheme);
  cell.attack = pick(catalog.attacks, data[2], "likelihood_ratio");
  const std::string text(fuzz::as_text(data + 3, size - 3));
  std::vector<std::pair<std::string, std::string>> assignments;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    fuzz::expect_valid_or_rejected([&] {
      assignments.push_back(definitions::parse_assignment(text.substr(begin, end - begin)));
    });
    begin = end + 1;
  }
  definitions::Params params;
  for (const auto& [key, value] : assignments) params.set(key, value);
  read_every_way(params);

  for (const auto& [key, value] : assignments) {
    if (value.find("file:") != std::string::npos) return 0;
    if (key == "game") {
      cell.game = value;
    } else if (key == "scheme") {
      cell.scheme = value;
    } else if (key == "attack") {
      cell.attack = value;
    } else {
      try {
        experiments::set_component_param(cell, key, value);
      } catch (const InvalidArgument&) {
        return 0;
      }
    }
  }
  fuzz::expect_valid_or_rejected([&] { (void)experiments::instantiate(catalog, cell); });
  return 0;
}
