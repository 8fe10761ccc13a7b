// Sparse polynomial proxy regression on packed masks: elastic-net coordinate descent over main
// effects x_i and pairwise products x_i x_j (the Möbius basis), without materialising the
// n(n-1)/2 candidate columns.
//
// Objective (sklearn's ElasticNet with fit_intercept=True, unstandardised columns):
//   (1/2m) ||y - b0 - X β||² + α (ρ ||β||₁ + (1-ρ)/2 ||β||²),  ρ = l1_ratio in (0, 1].
// Columns are 0/1, so every inner product is a popcount or a sum of residuals over set bits:
//   - the working set W is solved with covariance updates on an exact Gram matrix built from
//     popcounts of ANDed bit columns (no pass over the m samples per coordinate update);
//   - KKT conditions are checked over every candidate with Cauchy-Schwarz bounds against a
//     reference gradient, so only candidates that could violate are recomputed exactly (byte
//     lookup tables of the residual), and the all-pairs gradient is rescanned (float GEMM
//     tiles, streamed into a bounded pool of the largest pairs) only when the bound for the
//     pairs outside the pool is no longer below the penalty.
// The factorization-machine proxy is in fm.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fastspex/bitmatrix.hpp"

namespace fastspex {

// A candidate column: main effect x_a (b < 0) or product x_a x_b (a < b).
struct Term {
  std::int32_t a = -1;
  std::int32_t b = -1;
  bool is_pair() const { return b >= 0; }
  std::uint64_t key() const {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
};

// Column-major bits: column j holds bit s for sample s (the transpose of the mask rows).
struct BitColumns {
  std::size_t m = 0;      // samples
  std::size_t n = 0;      // components
  std::size_t words = 0;  // words_for(m)
  std::vector<std::uint64_t> bits;
  std::vector<double> counts;  // popcount of each column
  const std::uint64_t* col(std::size_t j) const { return bits.data() + j * words; }
};

// Columns of the rows `rows[0..m_sel)` of `masks` (all rows when rows == nullptr).
BitColumns transpose_rows(ConstBitRows masks, const std::uint32_t* rows, std::size_t m_sel,
                          int n_threads);

// Path options. l1_ratio, tol and max_sweeps are the Python API's defaults (fastspex.proxies
// reads them from the bound _core.PathOptions).
struct PathOptions {
  double l1_ratio = 1.0;
  double tol = 1e-9;           // stop a solve when max_j G_jj δ_j² < tol · ||y - ȳ||²
  int max_sweeps = 100000;     // coordinate sweeps per penalty
  std::size_t max_features = 0;  // stop the path once more terms are active (0: no limit)
  bool scan_pairs = false;     // candidates: all mains and all pairs (else: the given terms)
  std::size_t pool = 0;        // scanned pairs kept with their gradient (0: automatic)
  int n_threads = 0;
};

struct PathResult {
  std::vector<double> alphas;  // penalties solved (a prefix of the requested grid)
  double alpha_max = 0.0;      // smallest penalty with all coefficients zero
  std::vector<Term> terms;     // every term that entered the working set, in order of entry
  // Coefficients at alphas[k]: (coef_terms, coef_values)[indptr[k] : indptr[k+1]].
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> coef_terms;
  std::vector<double> coef_values;
  std::vector<double> intercepts;
  std::vector<double> objectives;
  std::vector<std::int32_t> sweeps;
  std::size_t scans = 0;           // full all-pairs gradient scans
  std::size_t exact_checks = 0;    // candidate gradients recomputed exactly
};

// Penalty grid: n_alphas values from alpha_max down to eps * alpha_max, geometric.
std::vector<double> alpha_grid(double alpha_max, std::size_t n_alphas, double eps);

// The largest |x̃_jᵀ(y - ȳ)| / (m ρ) over the candidates (all pairs when scan_pairs).
double alpha_max(ConstBitRows masks, const double* y, const std::vector<Term>& terms,
                 const PathOptions& opt);

// Solves the path at `alphas` (descending; empty: n_alphas/eps grid from alpha_max).
PathResult lasso_path(ConstBitRows masks, const double* y, const std::vector<Term>& terms,
                      std::vector<double> alphas, std::size_t n_alphas, double eps,
                      const PathOptions& opt);

// Held-out mean squared error of each penalty for each of the `folds` folds
// (row-major folds x alphas; NaN where a fold's path stopped early). fold_of[s] in [0, folds).
// relaxed_ridge >= 0 scores the least-squares refit of each penalty's support (ridge · mean
// Gram diagonal added) instead of the penalised coefficients (the "relaxed lasso").
std::vector<double> cv_path_mse(ConstBitRows masks, const double* y, const std::vector<Term>& terms,
                                const std::vector<double>& alphas, const std::int32_t* fold_of,
                                int folds, double relaxed_ridge, const PathOptions& opt);

// Least-squares refit of y on an intercept and the given terms, with ridge penalty
// `ridge` · mean(diag of the centred Gram): coefficients, residual sum of squares and the
// diagonal of the inverse (ridged) centred Gram matrix (empty if it is singular), from which
// coefficient standard errors follow.
struct RefitResult {
  double intercept = 0.0;
  std::vector<double> coef;
  double rss = 0.0;
  std::vector<double> inv_diag;
};
RefitResult refit(ConstBitRows masks, const double* y, const std::vector<Term>& terms,
                  double ridge, int n_threads);

}  // namespace fastspex
