#include "core/parallel.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/errors.h"

namespace wrsec {
namespace {

// Both schedules at one and two threads.
std::vector<ParallelOptions> all_options() {
  std::vector<ParallelOptions> out;
  for (const int threads : {1, 2}) {
    out.push_back({.schedule = Schedule::fixed, .threads = threads});
    out.push_back({.schedule = Schedule::dynamic, .chunk = 3, .threads = threads});
  }
  return out;
}

std::string describe(const ParallelOptions& o) {
  return std::string(o.schedule == Schedule::fixed ? "static" : "dynamic") + ", " +
         std::to_string(o.threads) + " thread(s)";
}

TEST(ParallelFor, RunsEveryIterationOnceWhenNoneThrows) {
  constexpr std::int64_t n = 1000;
  for (const auto& o : all_options()) {
    std::vector<std::atomic<int>> runs(n);
    std::atomic<int> max_team{0};
    parallel_for(n, o, [&](std::int64_t i) {
      runs[static_cast<std::size_t>(i)].fetch_add(1);
      int team = omp_get_num_threads();
      int seen = max_team.load();
      while (team > seen && !max_team.compare_exchange_weak(seen, team)) {
      }
    });
    for (std::int64_t i = 0; i < n; ++i)
      ASSERT_EQ(runs[static_cast<std::size_t>(i)].load(), 1) << "i = " << i << ", " << describe(o);
    EXPECT_GE(max_team.load(), 1) << describe(o);
    EXPECT_LE(max_team.load(), o.threads) << describe(o);
  }
}

TEST(ParallelFor, TwoThreadsFormATeamOfTwo) {
  if (omp_get_thread_limit() < 2 || omp_get_dynamic())
    GTEST_SKIP() << "the OpenMP environment limits or adjusts team sizes";
  std::vector<int> team(64, 0);
  parallel_for(64, {.threads = 2},
               [&](std::int64_t i) { team[static_cast<std::size_t>(i)] = omp_get_num_threads(); });
  for (const int t : team) EXPECT_EQ(t, 2);
}

TEST(ParallelFor, DefaultOverloadAndSerialOption) {
  std::vector<std::int64_t> v(100, -1);
  parallel_for(100, [&](std::int64_t i) { v[static_cast<std::size_t>(i)] = i * i; });
  for (std::int64_t i = 0; i < 100; ++i) EXPECT_EQ(v[static_cast<std::size_t>(i)], i * i);
  // parallel = false runs every iteration on the calling thread, in order.
  std::vector<std::int64_t> order;
  parallel_for(50, {.threads = 2, .parallel = false}, [&](std::int64_t i) {
    EXPECT_EQ(omp_get_num_threads(), 1);
    order.push_back(i);
  });
  ASSERT_EQ(order.size(), 50U);
  for (std::int64_t i = 0; i < 50; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  // Empty and negative ranges run nothing.
  int calls = 0;
  parallel_for(0, [&](std::int64_t) { ++calls; });
  parallel_for(-5, [&](std::int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ParallelFor, RethrowsTheExceptionWithItsType) {
  for (const auto& o : all_options()) {
    try {
      parallel_for(200, o, [](std::int64_t i) {
        if (i == 137) throw InvalidArgument("iteration 137 failed");
      });
      ADD_FAILURE() << "no exception, " << describe(o);
    } catch (const InvalidArgument& e) {
      EXPECT_STREQ(e.what(), "iteration 137 failed") << describe(o);
    } catch (...) {
      ADD_FAILURE() << "another exception type, " << describe(o);
    }
  }
}

TEST(ParallelFor, KeepsOneOfSeveralExceptions) {
  for (const auto& o : all_options()) {
    try {
      parallel_for(500, o, [](std::int64_t i) {
        if (i % 7 == 3) throw RuntimeError("failed at " + std::to_string(i));
      });
      ADD_FAILURE() << "no exception, " << describe(o);
    } catch (const RuntimeError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("failed at ", 0), 0U) << e.what();
    }
  }
}

TEST(ParallelFor, SkipsTheRemainingBodiesAfterAnError) {
  // One thread, in order: nothing after the failing iteration runs.
  std::atomic<std::int64_t> calls{0};
  EXPECT_THROW(parallel_for(1000, {.threads = 1},
                            [&](std::int64_t i) {
                              ++calls;
                              if (i == 3) throw LogicError("stop");
                            }),
               LogicError);
  EXPECT_EQ(calls.load(), 4);
  // Two threads, static blocks [0, 500) and [500, 1000): the first block stops at its first
  // iteration, so at most the other block runs in full.
  calls = 0;
  EXPECT_THROW(parallel_for(1000, {.threads = 2},
                            [&](std::int64_t i) {
                              ++calls;
                              if (i == 0) throw LogicError("stop");
                            }),
               LogicError);
  EXPECT_LE(calls.load(), 501);
}

TEST(ParallelFor, NestedLoopsPropagateInnerErrors) {
  EXPECT_THROW(parallel_for(4, {.threads = 2},
                            [](std::int64_t i) {
                              parallel_for(10, {.threads = 2}, [i](std::int64_t j) {
                                if (i == 2 && j == 5) throw InvalidArgument("inner");
                              });
                            }),
               InvalidArgument);
}

}  // namespace
}  // namespace wrsec
