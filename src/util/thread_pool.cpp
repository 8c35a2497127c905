// ThreadPool: workers wait on a generation counter, spinning briefly before they sleep, so the
// back-to-back regions of a decode step (dozens per token) cost a barrier each, not a futex wake.
#include "pad/util/thread_pool.h"

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pad {
namespace {

// How long an idle worker spins before it sleeps: longer than the gap between two products of a
// decode step (tens of µs), far shorter than the gap between two requests.
constexpr auto kSpin = std::chrono::microseconds(2000);

thread_local bool t_inside_region = false;

int default_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

struct ThreadPool::State {
  std::vector<std::thread> workers;
  std::atomic<uint64_t> generation{0};  // bumped once per region
  std::atomic<int> pending{0};          // workers still inside the current region
  std::atomic<bool> stop{false};
  std::atomic<int> sleepers{0};
  const std::function<void(int, int)>* fn = nullptr;
  std::mutex mutex;  // guards sleeping and `error`
  std::condition_variable wake;
  std::exception_ptr error;
  std::mutex region;  // one region at a time; others run inline

  void call(int thread, int n) {
    try {
      t_inside_region = true;
      (*fn)(thread, n);
      t_inside_region = false;
    } catch (...) {
      t_inside_region = false;
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
    }
  }

  void worker(int thread, int n) {
    uint64_t seen = 0;
    for (;;) {
      auto start = std::chrono::steady_clock::now();
      int spins = 0;
      while (generation.load(std::memory_order_acquire) == seen && !stop.load(std::memory_order_relaxed)) {
        if (++spins % 1024 == 0 && std::chrono::steady_clock::now() - start > kSpin) {
          std::unique_lock<std::mutex> lock(mutex);
          sleepers.fetch_add(1);
          wake.wait(lock, [&] { return generation.load() != seen || stop.load(); });
          sleepers.fetch_sub(1);
          break;
        }
        // On an oversubscribed machine a spinning worker can hold the core the caller (or a
        // sibling) needs to finish the region: give it up now and then (free when nobody waits).
        if (spins % 64 == 0) std::this_thread::yield();
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      if (stop.load()) return;
      seen = generation.load(std::memory_order_acquire);
      call(thread, n);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : state_(new State), n_threads_(std::max(1, n_threads)) {
  for (int t = 1; t < n_threads_; ++t)
    state_->workers.emplace_back([this, t] { state_->worker(t, n_threads_); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->wake.notify_all();
  for (std::thread& w : state_->workers) w.join();
  delete state_;
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1 || t_inside_region) return fn(0, 1);
  std::unique_lock<std::mutex> region(state_->region, std::try_to_lock);
  if (!region.owns_lock()) return fn(0, 1);
  State& s = *state_;
  s.fn = &fn;
  s.error = nullptr;
  s.pending.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    // Publishing the generation under the mutex pairs with a worker's check-then-wait.
    std::lock_guard<std::mutex> lock(s.mutex);
    s.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  if (s.sleepers.load() > 0) s.wake.notify_all();
  s.call(0, n_threads_);
  for (int spins = 1; s.pending.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins % 64 == 0) std::this_thread::yield();  // a descheduled worker needs this core
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  if (s.error) std::rethrow_exception(s.error);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n_chunks = std::min<int64_t>(n_threads_, (n + grain - 1) / grain);
  if (n_chunks <= 1) return fn(0, n, 0);
  run([&](int thread, int) {
    if (thread >= n_chunks) return;
    const int64_t begin = n * thread / n_chunks, end = n * (thread + 1) / n_chunks;
    fn(begin, end, thread);
  });
}

namespace {
std::mutex g_pool_mutex;
std::unique_ptr<ThreadPool> g_pool;
int g_threads = 0;
}  // namespace

ThreadPool& global_pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (!g_pool) {
    if (g_threads <= 0) g_threads = default_threads();
    g_pool = std::make_unique<ThreadPool>(g_threads);
  }
  return *g_pool;
}

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  g_threads = n > 0 ? n : default_threads();
  if (g_pool && g_pool->n_threads() != g_threads) g_pool.reset();
}

int num_threads() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  return g_threads > 0 ? g_threads : default_threads();
}

}  // namespace pad
