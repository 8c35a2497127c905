// Load: 64 concurrent clients × 8 requests mixing endpoints, strategies (base, prompt, PAD with the
// head and the LoRA, rule full, best-of-n), preferences, streaming and clients that leave
// mid-stream. Zero 5xx, every finished reply complete and well-formed, resident memory after the run
// under 1.5× after warm-up, and /metrics back to 0 active rows.
#include <gtest/gtest.h>

#include "serve_load.h"

namespace pad {
namespace {

TEST(ServeLoad, SixtyFourClientsMixedRequests) {
  serve::ServerOptions o;
  o.port = 0;
  o.max_batch = 16;
  o.max_queue = 256;
  serve::Server server(test::default_serve_models(), o);
  server.start();
  test::LoadOptions lo;
  lo.port = server.port();
  lo.clients = 16;
  lo.requests_per_client = 4;
  test::LoadReport warm;
  test::run_load(lo, warm);  // warm-up: caches, allocator pools, thread stacks
  ASSERT_EQ(warm.server_errors, 0);
  const int64_t rss_warm = test::rss_kib();

  lo.clients = 64;
  lo.requests_per_client = 8;
  test::LoadReport rep;
  const auto t0 = std::chrono::steady_clock::now();
  test::run_load(lo, rep);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bool idle = false;
  for (int i = 0; i < 500 && !idle; ++i) {
    idle = test::metric(lo.port, "pad_active_rows") == 0 && test::metric(lo.port, "pad_queue_depth") == 0 &&
           test::metric(lo.port, "pad_in_flight") == 0;
    if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int64_t rss_after = test::rss_kib();
  std::string problems;
  for (const auto& p : rep.problems) problems += p + "\n";
  std::printf("load: %lld sent, %lld ok, %lld left mid-stream, %lld refused (429) in %.1f s; RSS %lld → %lld KiB\n",
              static_cast<long long>(rep.sent), static_cast<long long>(rep.ok), static_cast<long long>(rep.left),
              static_cast<long long>(rep.refused), secs, static_cast<long long>(rss_warm), static_cast<long long>(rss_after));
  EXPECT_EQ(rep.sent, 64 * 8);
  EXPECT_EQ(rep.server_errors, 0) << problems;
  EXPECT_EQ(rep.no_reply, 0) << problems;
  EXPECT_EQ(rep.client_errors, 0) << problems;
  EXPECT_EQ(rep.malformed, 0) << problems;
  EXPECT_EQ(rep.ok + rep.left + rep.refused, rep.sent);
  EXPECT_GT(rep.left, 0);
  EXPECT_TRUE(idle) << "rows " << test::metric(lo.port, "pad_active_rows") << ", queue "
                    << test::metric(lo.port, "pad_queue_depth");
  EXPECT_LT(static_cast<double>(rss_after), 1.5 * static_cast<double>(rss_warm));
  server.stop(std::chrono::milliseconds(5000));
}

}  // namespace
}  // namespace pad
