#include "experiments/communicator.h"

#include <cstdlib>

#include "core/errors.h"

#ifdef WRSEC_MPI
#include <mpi.h>
#endif

namespace wrsec::experiments {

#ifdef WRSEC_MPI
namespace {

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int* argc, char*** argv) {
    int provided = 0;
    // Only the main thread calls MPI; OpenMP threads work between the collectives.
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override { MPI_Finalize(); }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return size_; }
  [[nodiscard]] std::string kind() const override { return "mpi"; }

  [[nodiscard]] std::vector<std::string> allgather(const std::string& mine) const override {
    if (mine.size() > static_cast<std::size_t>(INT32_MAX))
      throw RuntimeError("MPI message too large");
    const int length = static_cast<int>(mine.size());
    std::vector<int> lengths(static_cast<std::size_t>(size_));
    MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD);
    std::vector<int> offsets(static_cast<std::size_t>(size_));
    long long total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[static_cast<std::size_t>(r)] = static_cast<int>(total);
      total += lengths[static_cast<std::size_t>(r)];
    }
    if (total > INT32_MAX) throw RuntimeError("MPI message too large");
    std::string all(static_cast<std::size_t>(total), '\0');
    MPI_Allgatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                   MPI_CHAR, MPI_COMM_WORLD);
    std::vector<std::string> out;
    for (int r = 0; r < size_; ++r)
      out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                               static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
    return out;
  }

  void broadcast(std::string& text) const override {
    unsigned long long length = text.size();
    MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (length > static_cast<unsigned long long>(INT32_MAX))
      throw RuntimeError("MPI message too large");
    text.resize(static_cast<std::size_t>(length));
    MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD);
  }

 private:
  int rank_ = 0;
  int size_ = 1;
};

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

}  // namespace

bool mpi_built() {
  return true;
}

std::unique_ptr<Communicator> open_world(int* argc, char*** argv) {
  if (!launched_by_mpi()) return std::make_unique<SoloCommunicator>();
  return std::make_unique<MpiCommunicator>(argc, argv);
}
#else
bool mpi_built() {
  return false;
}

std::unique_ptr<Communicator> open_world(int*, char***) {
  return std::make_unique<SoloCommunicator>();
}
#endif

}  // namespace wrsec::experiments
