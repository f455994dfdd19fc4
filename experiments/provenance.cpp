#include "experiments/provenance.h"

#include <NTL/version.h>
#include <gmp.h>
#include <mpfr.h>
#include <unistd.h>

#include <Eigen/Core>
#include <boost/version.hpp>
#include <ctime>
#include <thread>

#include "experiments/plugin.h"
#include "nn/numerics.h"

#ifndef WRSEC_GIT_DESCRIBE
#define WRSEC_GIT_DESCRIBE "unknown"
#endif
#ifndef WRSEC_BUILD_TYPE
#define WRSEC_BUILD_TYPE "unknown"
#endif
#ifndef WRSEC_CXX_FLAGS
#define WRSEC_CXX_FLAGS ""
#endif
#ifndef WRSEC_VERSION
#define WRSEC_VERSION "unknown"
#endif

namespace wrsec::experiments {

Provenance Provenance::current(int threads) {
  Provenance p;
  p.wrsec_version = WRSEC_VERSION;
  p.git_describe = WRSEC_GIT_DESCRIBE;
#if defined(__clang__)
  p.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  p.compiler = std::string("gcc ") + __VERSION__;
#else
  p.compiler = "unknown";
#endif
  p.build_type = WRSEC_BUILD_TYPE;
  p.cxx_flags = WRSEC_CXX_FLAGS;
  p.numerics = nn::numerics_id();
  char host[256] = {0};
  p.host = gethostname(host, sizeof(host) - 1) == 0 ? host : "unknown";
  p.threads = threads;
  p.hardware_threads = static_cast<int>(std::thread::hardware_concurrency());
  for (const auto& plugin : loaded_plugins()) p.plugins.push_back(plugin.to_json());
  p.libraries = {
      {"boost", BOOST_LIB_VERSION},
      {"eigen", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) +
                    "." + std::to_string(EIGEN_MINOR_VERSION)},
      {"ntl", NTL_VERSION},
      {"mpfr", mpfr_get_version()},
      {"gmp", gmp_version},
      {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                            std::to_string(NLOHMANN_JSON_VERSION_PATCH)},
  };
  return p;
}

nlohmann::json Provenance::to_json() const {
  nlohmann::json j = {{"wrsec_version", wrsec_version},
                      {"git_describe", git_describe},
                      {"compiler", compiler},
                      {"build_type", build_type},
                      {"cxx_flags", cxx_flags},
                      {"numerics", numerics},
                      {"host", host},
                      {"threads", threads},
                      {"hardware_threads", hardware_threads},
                      {"libraries", libraries}};
  if (!plugins.empty()) j["plugins"] = plugins;
  return j;
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace wrsec::experiments
