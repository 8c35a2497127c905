// pad::ThreadPool: every thread runs each region, exceptions come back, nesting runs inline,
// parallel_for covers [0, n) exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "pad/util/thread_pool.h"

namespace pad {
namespace {

TEST(ThreadPool, EveryThreadRunsEveryRegion) {
  ThreadPool pool(3);
  for (int region = 0; region < 200; ++region) {
    std::vector<std::atomic<int>> seen(3);
    pool.run([&](int t, int n) {
      ASSERT_EQ(n, 3);
      seen[size_t(t)]++;
    });
    for (auto& s : seen) ASSERT_EQ(s.load(), 1) << "region " << region;
  }
}

TEST(ThreadPool, RethrowsAndStaysUsable) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run([](int t, int) { if (t == 1) throw std::runtime_error("worker"); }), std::runtime_error);
  EXPECT_THROW(pool.run([](int t, int) { if (t == 0) throw std::invalid_argument("caller"); }), std::invalid_argument);
  std::atomic<int> calls{0};
  pool.run([&](int, int) { calls++; });
  EXPECT_EQ(calls.load(), 2);
}

TEST(ThreadPool, NestedRegionsRunInline) {
  ThreadPool pool(2);
  std::atomic<int> inner{0};
  pool.run([&](int, int) {
    pool.run([&](int t, int n) {
      EXPECT_EQ(t, 0);
      EXPECT_EQ(n, 1);
      inner++;
    });
  });
  EXPECT_EQ(inner.load(), 2);
}

TEST(ThreadPool, ParallelForCoversOnce) {
  ThreadPool pool(2);
  for (int64_t n : {1, 2, 7, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallel_for(n, 3, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n << " i=" << i;
  }
}

}  // namespace
}  // namespace pad
