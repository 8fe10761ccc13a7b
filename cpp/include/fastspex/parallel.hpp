// A minimal parallel-for over index ranges. Work is cut into fixed chunks; results never
// depend on the number of threads (randomness is keyed by chunk, not by thread).
// Exceptions thrown by workers are rethrown on the calling thread after join (hnswlib style).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace fastspex {

// More threads than this never help a kernel here, and each one costs a stack and, in some
// kernels, a per-thread buffer: larger requests (n_threads=10**6) are clamped, not obeyed.
constexpr int kMaxThreads = 256;

inline int resolve_threads(int n_threads) {
  if (n_threads > 0) return std::min(n_threads, kMaxThreads);
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : std::min(static_cast<int>(hc), kMaxThreads);
}

// Calls body(chunk_begin, chunk_end) for consecutive chunks of at most `grain` indices
// covering [begin, end). Chunks are handed out dynamically to up to n_threads threads.
template <class Body>
void parallel_for(std::size_t begin, std::size_t end, std::size_t grain, int n_threads,
                  Body&& body) {
  if (end <= begin) return;
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t chunks = (end - begin + grain - 1) / grain;
  const std::size_t threads =
      std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(n_threads)), chunks);
  if (threads <= 1) {
    for (std::size_t c = 0; c < chunks; ++c) {
      std::size_t lo = begin + c * grain;
      body(lo, std::min(end, lo + grain));
    }
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&]() {
    for (;;) {
      std::size_t c = next.fetch_add(1);
      if (c >= chunks) return;
      std::size_t lo = begin + c * grain;
      try {
        body(lo, std::min(end, lo + grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(chunks);  // stop handing out work
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) {
    // If the system refuses a thread (limits, memory), go on with those already running:
    // chunks are handed out dynamically, so fewer threads only means slower. Letting the
    // exception escape here would destroy joinable threads, which aborts the process.
    try {
      pool.emplace_back(worker);
    } catch (const std::system_error&) {
      break;
    }
  }
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace fastspex
