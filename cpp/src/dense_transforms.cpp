#include "fastspex/dense_transforms.hpp"

#include "fastspex/parallel.hpp"

namespace fastspex {
namespace {

// One butterfly pass per bit; within a pass the pairs (i, i | bit) are independent, so each
// pass is split over threads. `op(a, b)` updates the pair in place.
template <class Op>
void butterfly(double* v, std::size_t log2_len, int n_threads, Op op) {
  const std::size_t len = std::size_t{1} << log2_len;
  const std::size_t half = len / 2;
  for (std::size_t k = 0; k < log2_len; ++k) {
    const std::size_t bit = std::size_t{1} << k;
    const std::size_t grain = len >= (1u << 16) ? (1u << 14) : half + 1;
    parallel_for(0, half, grain, n_threads, [&](std::size_t lo, std::size_t hi) {
      for (std::size_t p = lo; p < hi; ++p) {
        // p-th pair: insert a zero at position k.
        const std::size_t i = ((p >> k) << (k + 1)) | (p & (bit - 1));
        op(v[i], v[i | bit]);
      }
    });
  }
}

}  // namespace

void fwht_inplace(double* values, std::size_t log2_len, int n_threads) {
  butterfly(values, log2_len, n_threads, [](double& a, double& b) {
    const double x = a, y = b;
    a = x + y;
    b = x - y;
  });
}

void mobius_inplace(double* values, std::size_t log2_len, int n_threads) {
  butterfly(values, log2_len, n_threads, [](double& a, double& b) { b -= a; });
}

void zeta_inplace(double* values, std::size_t log2_len, int n_threads) {
  butterfly(values, log2_len, n_threads, [](double& a, double& b) { b += a; });
}

}  // namespace fastspex
