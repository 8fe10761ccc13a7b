// Interaction-index bindings: argument conversion only; the work is in src/indices.cpp.
#include "fastspex/indices.hpp"
#include "sparse_convert.hpp"

namespace fastspex::bind {
namespace {

using namespace pybind11::literals;

py::tuple index_transform(const Int64s& indptr, const Int32s& indices, const Doubles& values,
                          long long n, const std::string& basis, const std::string& index,
                          int order, std::uint64_t max_terms, double tol) {
  const SparseSetView view = set_view(indptr, indices, values, n, "index_transform");
  const Basis b = parse_basis(basis);
  const IndexKind kind = parse_index(index);
  SparseSet out;
  {
    py::gil_scoped_release release;
    out = compute_index(view, b, kind, order, max_terms, tol);
  }
  return set_arrays(std::move(out));
}

Doubles evaluate(const Int64s& indptr, const Int32s& indices, const Doubles& values, long long n,
                 const std::string& basis, const Words& words, int n_threads) {
  const SparseSetView view = set_view(indptr, indices, values, n, "evaluate");
  const Basis b = parse_basis(basis);
  ConstBitRows rows = const_rows(words, n, "evaluate");
  Doubles out(static_cast<py::ssize_t>(rows.rows));
  double* dst = out.mutable_data();
  py::gil_scoped_release release;
  evaluate_set(view, b, rows, dst, n_threads);
  return out;
}

}  // namespace

void bind_indices(py::module_& m) {
  m.def("index_transform", &index_transform, "indptr"_a.noconvert(), "indices"_a.noconvert(),
        "values"_a.noconvert(), "n"_a, "basis"_a, "index"_a, "order"_a, "max_terms"_a,
        "tol"_a = 0.0,
        "Interaction index (or change of basis) of a sparse set, as CSR arrays "
        "(supports sorted by size, then lexicographically).");
  m.def("evaluate_set", &evaluate, "indptr"_a.noconvert(), "indices"_a.noconvert(),
        "values"_a.noconvert(), "n"_a, "basis"_a, "words"_a.noconvert(), "n_threads"_a = 0,
        "Value of a sparse expansion on each packed mask.");
}

}  // namespace fastspex::bind
