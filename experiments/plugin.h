#pragma once
// Loading plug-ins (definitions/plugin.h) into Catalog::global(): dlopen the shared library, call
// its one entry point with this build's ABI tag, and record what it registered. Plug-ins are
// loaded before anything is played (the catalog is read concurrently afterwards) and are never
// unloaded. Every failure is an InvalidArgument naming the file: not found, not loadable, no
// entry point, built against another wrsec (both ABI tags quoted), registration threw (e.g. an id
// that already exists).
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wrsec::experiments {

struct LoadedPlugin {
  std::string name;  // as given to WRSEC_PLUGIN
  std::filesystem::path path;
  std::string sha256;                                // of the file, for provenance
  std::vector<std::string> schemes, attacks, games;  // the ids it registered

  [[nodiscard]] nlohmann::json to_json() const;
};

// The environment variable holding a search path for plug-ins: entries separated by ':', each a
// plug-in file or a directory whose *.so files are all loaded (in name order).
inline constexpr const char* kPluginPathVariable = "WRSEC_PLUGIN_PATH";

// Loads one plug-in; a file already loaded (same canonical path) is not loaded twice.
const LoadedPlugin& load_plugin(const std::filesystem::path& path);

// Loads every plug-in named by WRSEC_PLUGIN_PATH (nothing if unset or empty).
void load_plugins_from_environment();

// The plug-ins loaded so far, in load order.
std::vector<LoadedPlugin> loaded_plugins();

// The ABI tag this build accepts (WRSEC_PLUGIN_ABI).
const char* plugin_abi();

}  // namespace wrsec::experiments
