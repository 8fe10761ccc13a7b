// All-pairs scoring: the chosen pair index of every pair i < j, streamed into a top-k heap.
// Memory is O(n·r + k) for a factorization machine and O(touched pairs + k) for a sparse set;
// the n(n-1)/2 scores are never stored.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fastspex/indices.hpp"
#include "fastspex/sparse_set.hpp"
#include "fastspex/topk.hpp"

namespace fastspex {

struct PairList {
  std::vector<std::int32_t> i;
  std::vector<std::int32_t> j;
  std::vector<double> score;
};

inline std::uint64_t pair_count(std::size_t n) {
  return static_cast<std::uint64_t>(n) * (n - (n > 0 ? 1 : 0)) / 2;
}

// Top-k of scale * <V_i, V_j> over all i < j; V is row-major (n x r). Tiles of V V^T are
// computed (upper triangle only) by an AVX2/FMA register-blocked kernel when the CPU has one and
// allow_simd is set, else by Eigen GEMM, and filtered against the running k-th key.
// With mixed set (and the AVX2 kernel in use, and every |V| entry 0 or in [1e-15, 1e15]) the
// tiles are computed in single precision: a pair is re-scored in double whenever its float
// score plus the float error bound (r + 3)·2^-24·1.01·|V_i|·|V_j| could reach the running k-th
// key, so every returned score is a double dot product and the top-k is that of the double
// scores (pairs whose double scores tie to within double rounding rank as the double scan may).
PairList fm_top_pairs(const double* V, std::size_t n, std::size_t r, double scale, std::size_t k,
                      RankBy by, int n_threads, bool allow_simd = true, bool mixed = true);

// Fused multiply-adds per second this machine sustains on n_threads threads (8-wide single
// precision AVX2 FMAs on independent registers, counted per lane), over about `seconds`;
// 0 when the CPU has no AVX2/FMA. Throws std::invalid_argument unless 0 < seconds <= 2.
double measured_fma_rate(double seconds, int n_threads);

// Top-k over all i < j of the pair index Σ_{T ⊇ {i,j}} W(2,|T|) c(T) of a sparse set (weights
// from index_weights). Pairs no support touches score exactly 0 and compete like any other.
// Throws std::invalid_argument if the supports hold more than max_terms pairs.
PairList sparse_top_pairs(const SparseSetView& in, const WeightTable& weights, std::size_t k,
                          RankBy by, int n_threads, std::uint64_t max_terms);

}  // namespace fastspex
