// Exact interaction indices of a sparse set function, computed from its Fourier or Möbius
// coefficients by visiting only subsets of the given supports (never all 2^n masks).
//
// Conventions (x in {0,1}^n, 1 = kept): Fourier f(x) = Σ F(T) (-1)^{|x ∩ T|}, Möbius
// f(x) = Σ a(T) Π_{i∈T} x_i. Every index here is a "superset map": its value at S is
// Σ_{T ⊇ S} w(|S|, |T|) c(T) over the input coefficients c, with a weight that depends only on
// the two sizes. Weights on Möbius coefficients (t = |T|, s = |S|):
//   fourier  (-1)^s / 2^t                mobius   [s = t]
//   bii      2^{-(t-s)}                  sii      1 / (t-s+1)
//   ablation 1   (Δ_S = Σ_{U⊆S} (-1)^{|U|} f(1 - 1_U) = Σ_{T⊇S} a(T))
//   stii_k   [s = t] if t <= k, else [s = k] / C(t, k)              (Sundararajan et al. 2020)
//   fsii_k   [s = t] if t <= k, else (-1)^{k-s} s/(k+s) C(k,s) C(t-1,k) / C(t+k-1, k+s)
//   fbii_k   [s = t] if t <= k, else (-1)^{k-s} 2^{-(t-s)} C(t-s-1, k-s)  (Tsai et al. 2023)
//   ksii_k   [t = 0] if s = 0 (k-SII(∅) = f(0), shapiq's convention), else for 1 <= s <= k
//            Σ_{j=0}^{min(k,t)-s} C(t-s, j) B_j / (t-s-j+1), B_j the Bernoulli numbers
//            (B_1 = -1/2): shapiq's aggregation k-SII(S) = Σ_{U⊇S,|U|<=k} B_{|U|-|S|} SII(U)
//            (Bord et al. 2023) with SII written in the Möbius basis.
// Weights on Fourier coefficients follow by composing with a(T) = (-2)^{|T|} Σ_{U⊇T} F(U):
//   W(s, u) = Σ_{t=s}^{u} C(u-s, t-s) (-2)^t w(s, t), evaluated in 128-bit floating point.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fastspex/bitmatrix.hpp"
#include "fastspex/sparse_set.hpp"

namespace fastspex {

enum class Basis { Fourier, Mobius };
enum class IndexKind { Fourier, Mobius, BII, SII, FBII, FSII, STII, Ablation, KSII };

Basis parse_basis(const std::string& name);
IndexKind parse_index(const std::string& name);

// Largest support size the weight tables accept (beyond it, cancellation in the Fourier
// composition would exceed double precision).
constexpr std::size_t kMaxSupportOrder = 64;

// w(s, t) for output sets of size s inside input supports of size t, 0 <= s <= t <= max_t.
struct WeightTable {
  std::size_t max_t = 0;
  std::vector<double> w;  // (max_t+1)^2, row s, column t
  double at(std::size_t s, std::size_t t) const { return w[s * (max_t + 1) + t]; }
};

// Weights of `kind` (order k where the index needs one) applied to coefficients in `input`.
WeightTable index_weights(IndexKind kind, Basis input, int order, std::size_t max_t);

// The output sizes [lo, hi] an index produces: order < 0 means "no limit" for fourier, mobius,
// bii, sii and ablation (then it caps the output size); fbii/fsii/stii/ksii need order >= 1.
void index_orders(IndexKind kind, int order, std::size_t* lo, std::size_t* hi);

// Σ_{T⊇S} W(|S|,|T|) c(T) for every S with lo <= |S| <= hi inside some support, merged and
// sorted; entries with |value| <= tol dropped. Throws std::invalid_argument if more than
// max_terms (subset, value) terms would be emitted.
SparseSet superset_map(const SparseSetView& in, const WeightTable& weights, std::size_t lo,
                       std::size_t hi, std::uint64_t max_terms, double tol);

// The index `kind` of the set `in` given in basis `input`.
SparseSet compute_index(const SparseSetView& in, Basis input, IndexKind kind, int order,
                        std::uint64_t max_terms, double tol);

// f(x) for every packed mask row x; out has masks.rows entries.
void evaluate_set(const SparseSetView& in, Basis basis, ConstBitRows masks, double* out,
                  int n_threads);

// Number of subsets of size s of a t-set, saturating at 2^63.
std::uint64_t binomial_saturating(std::size_t t, std::size_t s);

}  // namespace fastspex
