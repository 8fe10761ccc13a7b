// Bindings for tree ensemble -> exact Fourier extraction (ProxySPEX): conversion only; the work
// is in src/trees.cpp.
#include "fastspex/trees.hpp"
#include "sparse_convert.hpp"

namespace fastspex::bind {
namespace {

using namespace pybind11::literals;

void require_1d(const py::array& a, std::size_t len, const char* name) {
  if (a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != len) {
    throw std::invalid_argument(std::string("trees_to_fourier: ") + name +
                                " must be 1-D with " + std::to_string(len) + " entries");
  }
}

py::tuple trees_to_fourier(const Int64s& node_ptr, const Int64s& leaf_ptr,
                           const Int32s& split_feature, const Doubles& threshold,
                           const Int32s& decision_type, const Int32s& left_child,
                           const Int32s& right_child, const Doubles& leaf_value, long long n,
                           long long top_k, double tol, std::uint64_t max_terms, int n_threads) {
  require_n(n, "trees_to_fourier");
  if (top_k < 0) throw std::invalid_argument("trees_to_fourier: top_k must be >= 0");
  if (node_ptr.ndim() != 1 || node_ptr.shape(0) < 1) {
    throw std::invalid_argument("trees_to_fourier: node_ptr must be 1-D with T+1 entries");
  }
  const auto trees = static_cast<std::size_t>(node_ptr.shape(0) - 1);
  require_1d(leaf_ptr, trees + 1, "leaf_ptr");
  const std::int64_t nodes = node_ptr.data()[trees];
  const std::int64_t leaves = leaf_ptr.data()[trees];
  if (nodes < 0 || leaves < 0) {
    throw std::invalid_argument("trees_to_fourier: offsets must be non-negative");
  }
  const auto nn = static_cast<std::size_t>(nodes);
  require_1d(split_feature, nn, "split_feature");
  require_1d(threshold, nn, "threshold");
  require_1d(decision_type, nn, "decision_type");
  require_1d(left_child, nn, "left_child");
  require_1d(right_child, nn, "right_child");
  require_1d(leaf_value, static_cast<std::size_t>(leaves), "leaf_value");
  const TreeEnsembleView view{trees,           node_ptr.data(),     leaf_ptr.data(),
                              split_feature.data(), threshold.data(), decision_type.data(),
                              left_child.data(),    right_child.data(), leaf_value.data()};
  SparseSet out;
  {
    py::gil_scoped_release release;
    validate_trees(view, static_cast<std::size_t>(n));
    out = fastspex::trees_to_fourier(view, static_cast<std::size_t>(n),
                                     static_cast<std::size_t>(top_k), tol, max_terms, n_threads);
  }
  return set_arrays(std::move(out));
}

}  // namespace

void bind_trees(py::module_& m) {
  m.def("trees_to_fourier", &trees_to_fourier, "node_ptr"_a.noconvert(), "leaf_ptr"_a.noconvert(),
        "split_feature"_a.noconvert(), "threshold"_a.noconvert(), "decision_type"_a.noconvert(),
        "left_child"_a.noconvert(), "right_child"_a.noconvert(), "leaf_value"_a.noconvert(), "n"_a,
        "top_k"_a = 0, "tol"_a = 0.0, "max_terms"_a = std::uint64_t{1} << 26, "n_threads"_a = 0,
        "Exact Fourier coefficients of a tree ensemble on binary inputs, as CSR arrays (supports "
        "sorted by size, then lexicographically); top_k > 0 keeps the empty set and the top_k "
        "largest |values|.");
}

}  // namespace fastspex::bind
