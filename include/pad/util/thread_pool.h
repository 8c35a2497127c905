// One persistent pool of threads for pad's hot loops (products, attention, fused decode ops): a
// parallel region costs a wake-up and a barrier, not a thread start (DESIGN §5).
#pragma once

#include <functional>

namespace pad {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads - 1 workers; the caller is thread 0
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(thread, n_threads) once on every thread and returns when all calls have returned.
  // The first exception thrown by any call is rethrown here. A call made from inside fn (or while
  // another thread holds the pool) runs fn(0, 1) inline, so nesting never deadlocks.
  void run(const std::function<void(int thread, int n_threads)>& fn);

  // Splits [0, n) into contiguous chunks of at least `grain` items, one chunk per thread at most:
  // fn(begin, end, thread).
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  struct State;
  State* state_;
  int n_threads_;
};

// The process-wide pool: created on first use with set_num_threads's value (default: every core
// the process may run on). set_num_threads rebuilds it; call it only when no region is running.
ThreadPool& global_pool();
void set_num_threads(int n);
int num_threads();

}  // namespace pad
