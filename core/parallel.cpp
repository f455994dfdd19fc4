#include "core/parallel.h"

namespace wrsec::detail {

void FirstError::record_current() noexcept {
#pragma omp critical(wrsec_parallel_for_first_error)
  {
    if (!error_) {
      error_ = std::current_exception();
      recorded_.store(true, std::memory_order_relaxed);
    }
  }
}

void FirstError::rethrow_if_recorded() const {
  if (error_) std::rethrow_exception(error_);
}

}  // namespace wrsec::detail
