// Mask designs: which subsets of components to keep (1) or ablate (0) when querying a model.
// Every random design is reproducible from its seed and independent of the thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fastspex/bitmatrix.hpp"

namespace fastspex {

// Each bit kept independently with probability p (p is resolved to 2^-32).
void design_bernoulli(BitRows out, double p, std::uint64_t seed, int n_threads);

// Each row ablates k components, k uniform in [k_min, k_max], the k chosen uniformly.
// With `count_kept`, k counts kept components instead (the rest ablated).
void design_random_subsets(BitRows out, std::size_t k_min, std::size_t k_max, bool count_kept,
                           std::uint64_t seed, int n_threads);

// Number of rows of design_leave_k_out: sum_{j=k_min}^{k_max} C(n, j); throws on overflow.
std::size_t leave_k_out_rows(std::size_t n, std::size_t k_min, std::size_t k_max);
// Every subset T with k_min <= |T| <= k_max ablated around the full input, ordered by |T|,
// then lexicographically by the sorted members of T.
void design_leave_k_out(BitRows out, std::size_t k_min, std::size_t k_max, int n_threads);

// All 2^n masks for n <= 30; row r keeps component j iff bit j of r is set.
void design_exhaustive(BitRows out, int n_threads);

// GF(2) subsampling: row p*2^b + l is (H^T l) XOR delays[p], where bit k of l selects row k
// of the (b x n) matrix H. `h` has b rows and `delays` P rows, both of width out.n.
void design_gf2_subsample(ConstBitRows h, ConstBitRows delays, BitRows out, int n_threads);

// Fills a (b x n) matrix with i.i.d. fair bits.
void random_bits(BitRows out, std::uint64_t seed, int n_threads);

// Unique rows in order of first occurrence: returns their row indices, and writes for every
// input row the position of its unique representative into `inverse` (length in.rows).
std::vector<std::int64_t> unique_rows(ConstBitRows in, std::int64_t* inverse, int n_threads);

}  // namespace fastspex
