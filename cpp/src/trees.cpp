// Exact Fourier expansion of tree ensembles on binary inputs (trees.hpp): count the terms, expand
// every leaf over the subsets of its fixed features in fixed chunks of trees, merge, keep the top k.
#include "fastspex/trees.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"

namespace fastspex {
namespace {

constexpr std::size_t kTreesPerChunk = 32;  // fixed, so summation order never depends on threads

struct Fixed {
  std::int32_t feature;
  std::uint8_t bit;
};

// Where a split sends x_f = v for v in {0, 1} (LightGBM's numerical decision).
inline std::int32_t route(const TreeEnsembleView& t, std::int64_t node, int v) {
  const std::int32_t dt = t.decision_type[node];
  const bool zero_missing = ((dt >> 2) & 3) == 1;
  bool left;
  if (zero_missing && v == 0) {
    left = (dt & 2) != 0;
  } else {
    left = static_cast<double>(v) <= t.threshold[node];
  }
  return left ? t.left_child[node] : t.right_child[node];
}

// Depth-first walk of tree `tree` calling leaf(leaf_global_index, path) for every reachable leaf;
// `path` lists the distinct features fixed on the way with the value each was fixed to.
template <class Leaf>
void walk_tree(const TreeEnsembleView& t, std::size_t tree, std::vector<Fixed>& path, Leaf&& leaf) {
  const std::int64_t node0 = t.node_ptr[tree];
  const std::int64_t leaf0 = t.leaf_ptr[tree];
  struct Frame {
    std::int32_t child;
    std::size_t keep;    // path length to restore
    std::int32_t fix;    // feature fixed by taking this branch, -1 for none
    std::uint8_t bit;
  };
  std::vector<Frame> stack;
  path.clear();
  const bool no_split = t.node_ptr[tree + 1] == node0;
  stack.push_back(Frame{no_split ? -1 : 0, 0, -1, 0});
  while (!stack.empty()) {
    const Frame fr = stack.back();
    stack.pop_back();
    path.resize(fr.keep);
    if (fr.fix >= 0) path.push_back(Fixed{fr.fix, fr.bit});
    if (fr.child < 0) {
      leaf(leaf0 + static_cast<std::int64_t>(~fr.child), path);
      continue;
    }
    const std::int64_t node = node0 + fr.child;
    const std::int32_t f = t.split_feature[node];
    const auto it = std::find_if(path.begin(), path.end(),
                                 [f](const Fixed& x) { return x.feature == f; });
    if (it != path.end()) {  // already fixed higher up: only one branch is reachable
      stack.push_back(Frame{route(t, node, it->bit), path.size(), -1, 0});
      continue;
    }
    const std::int32_t to0 = route(t, node, 0);
    const std::int32_t to1 = route(t, node, 1);
    if (to0 == to1) {  // both values go the same way: the split fixes nothing
      stack.push_back(Frame{to0, path.size(), -1, 0});
      continue;
    }
    stack.push_back(Frame{to1, path.size(), f, 1});
    stack.push_back(Frame{to0, path.size(), f, 0});
  }
}

// Counts the terms Σ 2^{path features} of the expansion first, so an ensemble of very deep
// trees is refused before any allocation.
void check_term_count(const TreeEnsembleView& t, std::uint64_t max_terms) {
  std::uint64_t terms = 0;
  std::vector<Fixed> path;
  for (std::size_t k = 0; k < t.trees; ++k) {
    walk_tree(t, k, path, [&](std::int64_t, const std::vector<Fixed>& p) {
      if (p.size() >= 63 || terms + (std::uint64_t{1} << p.size()) > max_terms) {
        throw MemoryLimitError(
            "trees_to_fourier: the expansion has more than max_terms = " +
            std::to_string(max_terms) + " terms (trees too deep; limit max_depth)");
      }
      terms += std::uint64_t{1} << p.size();
    });
  }
}

// Adds a leaf of value v whose path fixes the features `p` to `map`: v/2^d · Π_{i∈S} s_{b_i}
// on every subset S of the d fixed features. `sorted` and `support` are scratch.
void add_leaf(double v, const std::vector<Fixed>& p, std::vector<Fixed>& sorted,
              std::vector<std::int32_t>& support, SupportMap& map) {
  sorted.assign(p.begin(), p.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const Fixed& x, const Fixed& y) { return x.feature < y.feature; });
  const std::size_t d = sorted.size();
  const double base = std::ldexp(v, -static_cast<int>(d));
  for (std::uint64_t s = 0; s < (std::uint64_t{1} << d); ++s) {
    support.clear();
    bool negative = false;
    for (std::size_t a = 0; a < d; ++a) {
      if ((s >> a) & 1) {
        support.push_back(sorted[a].feature);
        negative ^= sorted[a].bit != 0;  // [x_i = 1] = (1 - (-1)^{x_i}) / 2
      }
    }
    map.add(support.data(), support.size(), negative ? -base : base);
  }
}

// The expansion of each fixed chunk of kTreesPerChunk trees (in parallel), then their sum in
// chunk order, dropping |value| <= tol.
SparseSet expand_trees(const TreeEnsembleView& t, std::size_t n, double tol, int n_threads) {
  const std::size_t chunks = (t.trees + kTreesPerChunk - 1) / kTreesPerChunk;
  std::vector<SparseSet> partial(chunks);
  parallel_for(0, t.trees, kTreesPerChunk, n_threads, [&](std::size_t lo, std::size_t hi) {
    SupportMap map(1024);
    std::vector<Fixed> path;
    std::vector<Fixed> sorted;
    std::vector<std::int32_t> support;
    for (std::size_t k = lo; k < hi; ++k) {
      walk_tree(t, k, path, [&](std::int64_t leaf, const std::vector<Fixed>& p) {
        const double v = t.leaf_value[leaf];
        if (v != 0.0) add_leaf(v, p, sorted, support, map);
      });
    }
    partial[lo / kTreesPerChunk] = map.to_set(n, -1.0);
  });
  SupportMap total(partial.empty() ? 16 : partial[0].values.size() * 2);
  for (SparseSet& part : partial) {
    for (std::size_t k = 0; k < part.values.size(); ++k) {
      total.add(part.indices.data() + part.indptr[k],
                static_cast<std::size_t>(part.indptr[k + 1] - part.indptr[k]), part.values[k]);
    }
    part = SparseSet{};
  }
  return total.to_set(n, tol);
}

// The empty set (if present) plus the top_k largest |values| among the others, ties to the
// earlier support; order kept.
SparseSet keep_top_k(SparseSet all, std::size_t top_k) {
  std::vector<std::size_t> rest;
  rest.reserve(all.values.size());
  for (std::size_t k = 0; k < all.values.size(); ++k) {
    if (all.indptr[k + 1] > all.indptr[k]) rest.push_back(k);
  }
  if (rest.size() <= top_k) return all;
  auto better = [&](std::size_t a, std::size_t b) {
    const double x = std::abs(all.values[a]), y = std::abs(all.values[b]);
    return x != y ? x > y : a < b;
  };
  std::nth_element(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(top_k), rest.end(),
                   better);
  rest.resize(top_k);
  std::sort(rest.begin(), rest.end());
  SparseSet out;
  out.n = all.n;
  if (!all.values.empty() && all.indptr[1] == 0) {  // the empty set sorts first
    out.indptr.push_back(0);
    out.values.push_back(all.values[0]);
  }
  for (std::size_t k : rest) {
    out.indices.insert(out.indices.end(), all.indices.begin() + all.indptr[k],
                       all.indices.begin() + all.indptr[k + 1]);
    out.indptr.push_back(static_cast<std::int64_t>(out.indices.size()));
    out.values.push_back(all.values[k]);
  }
  return out;
}

}  // namespace

void validate_trees(const TreeEnsembleView& t, std::size_t n) {
  const std::string w = "trees_to_fourier";
  if (t.node_ptr[0] != 0 || t.leaf_ptr[0] != 0) {
    throw std::invalid_argument(w + ": node and leaf offsets must start at 0");
  }
  std::vector<std::uint8_t> seen_node, seen_leaf;
  for (std::size_t k = 0; k < t.trees; ++k) {
    const std::int64_t a = t.node_ptr[k], b = t.node_ptr[k + 1];
    const std::int64_t la = t.leaf_ptr[k], lb = t.leaf_ptr[k + 1];
    if (b < a || lb < la) throw std::invalid_argument(w + ": offsets must be non-decreasing");
    const std::int64_t nodes = b - a, leaves = lb - la;
    if (leaves != nodes + 1) {
      throw std::invalid_argument(w + ": tree " + std::to_string(k) + " has " +
                                  std::to_string(nodes) + " splits but " + std::to_string(leaves) +
                                  " leaves (a binary tree has one leaf more than splits)");
    }
    seen_node.assign(static_cast<std::size_t>(nodes), 0);
    seen_leaf.assign(static_cast<std::size_t>(leaves), 0);
    for (std::int64_t i = a; i < b; ++i) {
      const std::int32_t f = t.split_feature[i];
      if (f < 0 || static_cast<std::size_t>(f) >= n) {
        throw std::invalid_argument(w + ": tree " + std::to_string(k) + " splits on feature " +
                                    std::to_string(f) + ", outside [0, n)");
      }
      if (t.decision_type[i] & 1) {
        throw std::invalid_argument(w + ": categorical splits are not supported (tree " +
                                    std::to_string(k) + ")");
      }
      if (std::isnan(t.threshold[i])) {
        throw std::invalid_argument(w + ": NaN split threshold in tree " + std::to_string(k));
      }
      for (std::int32_t c : {t.left_child[i], t.right_child[i]}) {
        std::uint8_t* slot;
        if (c >= 0) {
          if (c == 0 || c >= nodes) {
            throw std::invalid_argument(w + ": tree " + std::to_string(k) +
                                        " has a child index outside its nodes (or the root)");
          }
          slot = &seen_node[static_cast<std::size_t>(c)];
        } else {
          const std::int64_t l = ~static_cast<std::int64_t>(c);
          if (l >= leaves) {
            throw std::invalid_argument(w + ": tree " + std::to_string(k) +
                                        " has a leaf index outside its leaves");
          }
          slot = &seen_leaf[static_cast<std::size_t>(l)];
        }
        if (*slot) {
          throw std::invalid_argument(w + ": tree " + std::to_string(k) +
                                      " reaches a node twice (not a tree)");
        }
        *slot = 1;
      }
    }
    for (std::int64_t l = la; l < lb; ++l) {
      if (!std::isfinite(t.leaf_value[l])) {
        throw std::invalid_argument(w + ": non-finite leaf value in tree " + std::to_string(k));
      }
    }
  }
}

SparseSet trees_to_fourier(const TreeEnsembleView& t, std::size_t n, std::size_t top_k,
                           double tol, std::uint64_t max_terms, int n_threads) {
  check_term_count(t, max_terms);
  SparseSet all = expand_trees(t, n, tol, n_threads);
  return top_k == 0 ? all : keep_top_k(std::move(all), top_k);
}

}  // namespace fastspex
