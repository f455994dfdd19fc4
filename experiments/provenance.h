#pragma once
// Provenance recorded with every result: what code, built how, ran where and when, so a number
// can be traced to the exact build that produced it.
#include <nlohmann/json.hpp>
#include <string>

namespace wrsec::experiments {

struct Provenance {
  std::string wrsec_version;
  std::string git_describe;  // `git describe --always --dirty --tags` at configure time
  std::string compiler;
  std::string build_type;
  std::string cxx_flags;
  std::string numerics;  // nn::numerics_id(): ISA level, GEMM blocking, Eigen version
  std::string host;
  int threads = 1;
  int hardware_threads = 1;
  nlohmann::json libraries;  // versions of Boost, Eigen, NTL, MPFR, GMP, nlohmann-json
  nlohmann::json plugins = nlohmann::json::array();  // loaded plug-ins (name, path, sha256, ids)

  static Provenance current(int threads);
  [[nodiscard]] nlohmann::json to_json() const;
};

// UTC time as ISO 8601 ("2026-11-22T12:34:56Z").
std::string utc_timestamp();

}  // namespace wrsec::experiments
