// libtorch must run its products on OpenBLAS, not the reference BLAS (~30× slower): the loaded
// library is OpenBLAS, and a 1024×1024 product reaches a GFLOP/s floor the reference BLAS cannot.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace {

TEST(Blas, OpenBlasIsTheLoadedBlas) {
  if (at::hasMKL()) GTEST_SKIP() << "this libtorch computes with MKL, not the system BLAS";
  at::Tensor a = at::randn({64, 64}), b = at::randn({64, 64});
  (void)at::mm(a, b);  // make sure the BLAS is loaded
  std::ifstream maps("/proc/self/maps");
  std::stringstream all;
  all << maps.rdbuf();
  const std::string text = all.str();
  EXPECT_NE(text.find("openblas"), std::string::npos) << "no OpenBLAS mapped; run scripts/setup";
  EXPECT_EQ(text.find("/blas/libblas.so"), std::string::npos) << "the reference BLAS is mapped";
}

TEST(Blas, MatmulReachesAFloorTheReferenceBlasCannot) {
  at::Tensor a = at::randn({1024, 1024}), b = at::randn({1024, 1024});
  (void)at::mm(a, b);
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    (void)at::mm(a, b);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double gflops = 2.0 * 1024 * 1024 * 1024 / best / 1e9;
  // The reference BLAS manages ~1-2 GFLOP/s here; OpenBLAS ~100 on 2 idle cores. 8 leaves room for a
  // busy machine while still failing on the reference implementation.
  EXPECT_GT(gflops, 8.0) << gflops << " GFLOP/s";
}

}  // namespace
