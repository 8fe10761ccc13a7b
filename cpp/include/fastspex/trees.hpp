// Exact Fourier expansion of a tree ensemble on binary inputs: the extraction step of ProxySPEX
// (docs/background.md, "ProxySPEX"), after the trees are fitted to the sampled masks.
//
// A tree is a function of x ∈ {0,1}ⁿ. Each root-to-leaf path fixes some features to 0 or 1;
// the indicator of the path is Π_{(i,b)} (1 + s_b·(-1)^{x_i}) / 2 with s_0 = +1, s_1 = -1, so a
// leaf of value v contributes v/2^d · Π_{i∈S} s_{b_i} to F(S) for every subset S of its d fixed
// features. Summing over leaves and trees gives the ensemble's exact Fourier coefficients —
// the same numbers as the node recursion F(S) = (L(S)+R(S))/2, F(S∪{i}) = (L(S)−R(S))/2, but a
// feature split twice on one path is handled by following the branch its first split fixed, and
// a split that sends both 0 and 1 the same way fixes nothing.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fastspex/sparse_set.hpp"

namespace fastspex {

// Flat arrays of T trees in LightGBM's layout. Tree t owns internal nodes
// [node_ptr[t], node_ptr[t+1]) and leaves [leaf_ptr[t], leaf_ptr[t+1]); node ids inside a tree
// are local: a child c >= 0 is internal node c, c < 0 is leaf ~c (= -c-1). The root is internal
// node 0, or leaf 0 when the tree has no internal node.
// A numerical split sends x to the left child when x <= threshold, except that when its missing
// type (bits 2-3 of decision_type: 0 none, 1 zero, 2 NaN) is "zero", x = 0 follows the default
// direction (bit 1 of decision_type: 1 = left). Bit 0 (categorical) is not supported.
struct TreeEnsembleView {
  std::size_t trees = 0;
  const std::int64_t* node_ptr = nullptr;       // (T+1)
  const std::int64_t* leaf_ptr = nullptr;       // (T+1)
  const std::int32_t* split_feature = nullptr;  // per internal node
  const double* threshold = nullptr;            // per internal node
  const std::int32_t* decision_type = nullptr;  // per internal node
  const std::int32_t* left_child = nullptr;     // per internal node
  const std::int32_t* right_child = nullptr;    // per internal node
  const double* leaf_value = nullptr;           // per leaf
};

// Throws std::invalid_argument unless every tree is well formed: pointers non-decreasing,
// leaves = internal nodes + 1, children in range and each node/leaf reached exactly once,
// features in [0, n), no categorical split.
void validate_trees(const TreeEnsembleView& trees, std::size_t n);

// The summed Fourier coefficients of all trees, merged by support. Keeps the `top_k` largest
// |values| (top_k = 0 keeps all; the empty set is always kept and does not count towards k),
// dropping |value| <= tol; ties are broken by (size, lexicographic) order of the supports.
// Result sorted by (size, lexicographic). Refuses (MemoryLimitError) when the per-leaf terms
// Σ 2^{path features} would exceed max_terms. Deterministic for any n_threads.
SparseSet trees_to_fourier(const TreeEnsembleView& trees, std::size_t n, std::size_t top_k,
                           double tol, std::uint64_t max_terms, int n_threads);

}  // namespace fastspex
