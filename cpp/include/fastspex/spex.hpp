// SPEX sparse Fourier recovery from coded subsampled masks (Kang, Butler et al., ICML 2025).
//
// Design (built in Python with the mask engine): for each group c a random (b x n) hash H_c,
// and P = r + 1 delays d_0 = 0, d_1..d_r = the rows of a BCH syndrome matrix (bch.hpp). Mask
// (c, p, l) is H_c^T l XOR d_p, complemented (XOR all-ones) when `complement` is set, which puts
// the all-kept mask at (c, 0, 0). A Walsh-Hadamard transform of each (c, p) block gives bins
// U_c,p[j] = sum over k with H_c k = j of F(k) sigma_p(k), sigma_p(k) = (-1)^(<k, d_p> (+ |k|)).
// A bin holding one coefficient reads the syndrome of k in the signs of U_c,p[j] / U_c,0[j];
// BCH decoding returns k, and peeling subtracts it from its bin in every group.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fastspex/bch.hpp"
#include "fastspex/bitmatrix.hpp"

namespace fastspex {

// Largest number of hash bits b: 2^b masks per (group, delay) block. The Python planner caps
// b at min(n, kSpexMaxB) too, so this is the one place the limit is set.
constexpr int kSpexMaxB = 20;

// Recovery options. These defaults are the Python API's defaults (fastspex.spex reads them
// from the bound _core.SpexOptions), so each is set here only.
struct SpexOptions {
  int max_order = 5;             // largest support size accepted (degree bound)
  double residual_ratio = 0.4;   // singleton if residual energy <= ratio * bin energy
  double noise_sd = -1.0;        // per-call output noise (same units as values); < 0: unknown
  double noise_z = 3.0;          // with a known noise: energy / significance margins in sds
  int chase_bits = 6;            // soft decoding: least reliable measured bits tried flipped
  int max_candidates = 32;       // soft decoding: most flip patterns tried per bin
  int max_iter = 64;             // peeling rounds
  double ridge = 0.0;            // ridge penalty of the refit (relative to C*P)
  double prune_z = 3.0;          // refit: drop terms within prune_z standard errors of zero
  bool complement = true;        // masks were complemented (all-kept mask at row 0)
  int n_threads = 0;
};

struct SpexRecovery {
  // Recovered Fourier coefficients in CSR form (empty set first, then by size and members).
  std::vector<std::int64_t> indptr;
  std::vector<std::int32_t> indices;
  std::vector<double> values;
  int iterations = 0;                 // peeling rounds run
  std::size_t detections = 0;         // singleton detections accepted (over all rounds)
  std::size_t peeled = 0;             // distinct supports found by peeling
  std::size_t pruned = 0;             // supports dropped by the refit's significance test
  double residual_fraction = 0.0;     // bin energy left after peeling / initial (non-DC part)
  double rss = 0.0;                   // refit residual sum of squares over all samples
  double tss = 0.0;                   // total sum of squares about the mean
  double noise_sd_estimate = 0.0;     // sqrt(rss / (samples - terms))
};

// Writes the P = r + 1 delays (row 0 = zero; row q+1 bit i = bit q of component i's BCH
// column), complemented when asked. `out` must have r + 1 rows of width code.n().
void spex_delays(const BchCode& code, bool complement, BitRows out);

// Full recovery. `values` holds groups * P * 2^b outputs in design order (group, delay, l);
// `hashes` holds the groups * b rows of the H_c, stacked.
SpexRecovery spex_recover(const double* values, ConstBitRows hashes, int groups, int b,
                          const BchCode& code, const SpexOptions& options);

}  // namespace fastspex
