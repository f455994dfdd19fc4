#pragma once
// Communicator: the processes that share one run (MPI ranks, or this process alone). Collectives
// are all-or-none: every rank calls them in the same order. Rank 0 owns the run directory.
#include <memory>
#include <string>
#include <vector>

namespace wrsec::experiments {

class Communicator {
 public:
  virtual ~Communicator() = default;
  [[nodiscard]] virtual int rank() const = 0;
  [[nodiscard]] virtual int size() const = 0;
  // Every rank's text, in rank order, on every rank.
  [[nodiscard]] virtual std::vector<std::string> allgather(const std::string& mine) const = 0;
  // Rank 0's text on every rank.
  virtual void broadcast(std::string& text) const = 0;
  [[nodiscard]] virtual std::string kind() const = 0;  // "solo" or "mpi"
};

class SoloCommunicator final : public Communicator {
 public:
  [[nodiscard]] int rank() const override { return 0; }
  [[nodiscard]] int size() const override { return 1; }
  [[nodiscard]] std::vector<std::string> allgather(const std::string& mine) const override {
    return {mine};
  }
  void broadcast(std::string&) const override {}
  [[nodiscard]] std::string kind() const override { return "solo"; }
};

// Whether this build has MPI support (CMake option WRSEC_MPI).
[[nodiscard]] bool mpi_built();

// The MPI world when built with WRSEC_MPI and launched by mpirun/srun (MPI is initialised here and
// finalised when the returned object is destroyed); otherwise a SoloCommunicator.
std::unique_ptr<Communicator> open_world(int* argc, char*** argv);

}  // namespace wrsec::experiments
