// wrsec list: every registered game, scheme, attack and measurement.
#include <iostream>
#include <string>

#include "apps/commands.h"
#include "experiments/catalog.h"
#include "experiments/plugin.h"
#include "studies/measurement.h"

namespace wrsec::app {
namespace {

void print_entry(const std::string& id, const std::string& description) {
  std::cout << "  " << id << std::string(id.size() < 22 ? 22 - id.size() : 1, ' ') << description
            << '\n';
}

template <class Registry>
void print(const Registry& registry, const char* title) {
  std::cout << title << ":\n";
  for (const auto* entry : registry.entries()) print_entry(entry->id, entry->description);
}

}  // namespace

int cmd_list(const Args& args, const Context& /*context*/) {
  po::options_description opts("wrsec list: every registered component with its description");
  opts.add_options()("help,h", "show this help");
  const auto vm = parse(args, opts);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  const auto& catalog = experiments::Catalog::global();
  print(catalog.games, "games");
  print(catalog.schemes, "schemes");
  print_entry(experiments::kNoScheme, "no scheme (for games that play without one)");
  print(catalog.attacks, "attacks");
  print(studies::builtin_measurements(), "measurements");
  const auto plugins = experiments::loaded_plugins();
  if (!plugins.empty()) {
    std::cout << "\nplug-ins:\n";
    for (const auto& p : plugins) {
      std::string ids;
      for (const auto* list : {&p.schemes, &p.attacks, &p.games})
        for (const auto& id : *list) ids += (ids.empty() ? "" : ", ") + id;
      print_entry(p.name, p.path.string() + " (" + ids + ")");
    }
  }
  return kExitOk;
}

}  // namespace wrsec::app
