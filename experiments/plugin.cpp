#include "experiments/plugin.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <set>

#include "core/errors.h"
#include "core/sha256.h"
#include "definitions/plugin.h"
#include "experiments/catalog.h"

namespace wrsec::experiments {

namespace fs = std::filesystem;

namespace {

std::mutex& plugin_mutex() {
  static std::mutex m;
  return m;
}

std::vector<LoadedPlugin>& registry_of_plugins() {
  static std::vector<LoadedPlugin> plugins;
  return plugins;
}

template <class T>
std::set<std::string> ids(const definitions::Registry<T>& registry) {
  std::set<std::string> out;
  for (const auto* e : registry.entries()) out.insert(e->id);
  return out;
}

template <class T>
std::vector<std::string> added(const definitions::Registry<T>& registry,
                               const std::set<std::string>& before) {
  std::vector<std::string> out;
  for (const auto& id : ids(registry))
    if (before.count(id) == 0) out.push_back(id);
  return out;
}

}  // namespace

class PluginLoader {
 public:
  static const LoadedPlugin& load(const fs::path& given) {
    const std::lock_guard<std::mutex> lock(plugin_mutex());
    const std::string shown = given.string();
    std::error_code ec;
    const fs::file_status status = fs::status(given, ec);
    if (ec || !fs::exists(status)) throw InvalidArgument("plug-in '" + shown + "': no such file");
    if (!fs::is_regular_file(status))
      throw InvalidArgument("plug-in '" + shown + "' is not a regular file");
    const fs::path path = fs::canonical(given);
    auto& plugins = registry_of_plugins();
    for (const auto& p : plugins)
      if (p.path == path) return p;

    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      throw InvalidArgument("plug-in '" + shown +
                            "' cannot be loaded: " + (why != nullptr ? why : "unknown reason"));
    }
    dlerror();
    void* symbol = dlsym(handle, WRSEC_PLUGIN_ENTRY_SYMBOL);
    if (symbol == nullptr) {
      dlclose(handle);
      throw InvalidArgument("plug-in '" + shown +
                            "' exports no " WRSEC_PLUGIN_ENTRY_SYMBOL
                            " (define it with WRSEC_PLUGIN, definitions/plugin.h)");
    }
    Catalog& catalog = Catalog::global_mutable();
    const auto schemes_before = ids(catalog.schemes);
    const auto attacks_before = ids(catalog.attacks);
    const auto games_before = ids(catalog.games);
    definitions::PluginRegistrar registrar{catalog.schemes, catalog.attacks, catalog.games};
    wrsec_plugin_call call{};
    call.host_abi = WRSEC_PLUGIN_ABI;
    call.registrar = &registrar;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): dlsym's documented use
    const auto entry = reinterpret_cast<wrsec_plugin_entry_fn>(symbol);
    const int rc = entry(&call);
    if (rc == 1) {
      // The plug-in's tag lives in the library: copy it before unmapping.
      const std::string message =
          "plug-in '" + shown + "' was built against another wrsec: its ABI tag is [" +
          (call.plugin_abi != nullptr ? call.plugin_abi : "none") + "], this wrsec's is [" +
          WRSEC_PLUGIN_ABI + "]; rebuild it against this installation";
      dlclose(handle);
      throw InvalidArgument(message);
    }
    if (rc != 0) {
      // Keep the library mapped: it may have registered some factories before it threw.
      call.error[sizeof call.error - 1] = '\0';
      throw InvalidArgument("plug-in '" + shown + "' failed to register its components: " +
                            (rc == 2 ? call.error : "entry point returned " + std::to_string(rc)));
    }
    LoadedPlugin loaded;
    loaded.name = call.plugin_name != nullptr ? call.plugin_name : path.stem().string();
    loaded.path = path;
    loaded.sha256 = to_hex(sha256_file(path));
    loaded.schemes = added(catalog.schemes, schemes_before);
    loaded.attacks = added(catalog.attacks, attacks_before);
    loaded.games = added(catalog.games, games_before);
    plugins.push_back(std::move(loaded));
    return plugins.back();
  }
};

nlohmann::json LoadedPlugin::to_json() const {
  return {{"name", name},       {"path", path.string()}, {"sha256", sha256},
          {"schemes", schemes}, {"attacks", attacks},    {"games", games}};
}

const LoadedPlugin& load_plugin(const fs::path& path) {
  return PluginLoader::load(path);
}

void load_plugins_from_environment() {
  const char* value = std::getenv(kPluginPathVariable);
  if (value == nullptr) return;
  const std::string text = value;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t end = std::min(text.find(':', at), text.size());
    const std::string entry = text.substr(at, end - at);
    at = end + 1;
    if (entry.empty()) continue;
    std::error_code ec;
    if (fs::is_directory(entry, ec)) {
      std::vector<fs::path> files;
      for (const auto& f : fs::directory_iterator(entry, ec))
        if (f.path().extension() == ".so") files.push_back(f.path());
      if (ec)
        throw InvalidArgument(std::string(kPluginPathVariable) + ": cannot list '" + entry +
                              "': " + ec.message());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) (void)load_plugin(f);
    } else {
      (void)load_plugin(entry);
    }
  }
}

std::vector<LoadedPlugin> loaded_plugins() {
  const std::lock_guard<std::mutex> lock(plugin_mutex());
  return registry_of_plugins();
}

const char* plugin_abi() {
  return WRSEC_PLUGIN_ABI;
}

}  // namespace wrsec::experiments
