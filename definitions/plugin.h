#pragma once
// Plug-ins: a shared library, built out of tree against the installed package
// (find_package(wrsec); wrsec_add_plugin()), that adds schemes, adversaries and games to wrsec's
// registries through one C entry point, defined by
//   WRSEC_PLUGIN("name", register_function)   // void register_function(PluginRegistrar&)
// The host calls wrsec_plugin_entry() with its ABI tag; the entry returns, registering nothing,
// unless the tag equals the one the plug-in was compiled with (plug-in protocol, wrsec version,
// libstdc++ string ABI, ISA level), so a plug-in built against another wrsec never runs.
// Components are held to the built-ins' rules (definitions/scheme.h, adversary.h, game.h):
// const methods safe to call concurrently, coins only from the Rng passed in, and no owner secret
// reachable from an adversary's inputs. docs/plugins.md says how to build and test one.
#include <cstdio>
#include <exception>

#include "core/version.h"
#include "definitions/adversary.h"
#include "definitions/game.h"
#include "definitions/registry.h"
#include "definitions/scheme.h"

namespace wrsec::definitions {

// The registries a plug-in adds to; ids must not collide with built-ins or other plug-ins.
struct PluginRegistrar {
  Registry<WeightReleaseScheme>& schemes;
  Registry<Adversary>& attacks;
  Registry<Game>& games;
};

}  // namespace wrsec::definitions

#define WRSEC_PLUGIN_STRINGIFY2(x) #x
#define WRSEC_PLUGIN_STRINGIFY(x) WRSEC_PLUGIN_STRINGIFY2(x)
// The ABI tag; the host and the plug-in must agree on every field.
#define WRSEC_PLUGIN_ABI                                 \
  "wrsec-plugin-protocol 1; wrsec " WRSEC_VERSION_STRING \
  "; cxx11-abi " WRSEC_PLUGIN_STRINGIFY(_GLIBCXX_USE_CXX11_ABI) "; isa " WRSEC_ISA_LEVEL

extern "C" {
// The entry point's one argument. Its layout is fixed for protocol 1 and never changes, so that
// hosts and plug-ins of different versions can still read each other's tags.
struct wrsec_plugin_call {
  const char* host_abi;     // in: the host's WRSEC_PLUGIN_ABI
  void* registrar;          // in: wrsec::definitions::PluginRegistrar*
  const char* plugin_abi;   // out: the plug-in's WRSEC_PLUGIN_ABI
  const char* plugin_name;  // out: the name given to WRSEC_PLUGIN
  char error[1024];         // out: what registration threw
};
// 0: registered; 1: ABI mismatch (nothing registered); 2: registration threw (see error).
using wrsec_plugin_entry_fn = int (*)(wrsec_plugin_call*);
}

#define WRSEC_PLUGIN_ENTRY_SYMBOL "wrsec_plugin_entry"

#define WRSEC_PLUGIN(NAME, REGISTER)                                                   \
  extern "C" __attribute__((visibility("default"))) int wrsec_plugin_entry(            \
      wrsec_plugin_call* call) {                                                       \
    call->plugin_abi = WRSEC_PLUGIN_ABI;                                               \
    call->plugin_name = NAME;                                                          \
    if (__builtin_strcmp(call->host_abi, WRSEC_PLUGIN_ABI) != 0) return 1;             \
    try {                                                                              \
      REGISTER(*static_cast<::wrsec::definitions::PluginRegistrar*>(call->registrar)); \
      return 0;                                                                        \
    } catch (const std::exception& e) {                                                \
      std::snprintf(call->error, sizeof call->error, "%s", e.what());                  \
      return 2;                                                                        \
    } catch (...) {                                                                    \
      std::snprintf(call->error, sizeof call->error, "%s", "unknown exception");       \
      return 2;                                                                        \
    }                                                                                  \
  }
