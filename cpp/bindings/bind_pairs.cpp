// All-pairs scoring bindings: argument conversion only; the work is in src/pairs.cpp.
#include "fastspex/pairs.hpp"
#include "sparse_convert.hpp"

namespace fastspex::bind {
namespace {

using namespace pybind11::literals;

py::tuple pair_arrays(PairList&& list) {
  return py::make_tuple(to_numpy(std::move(list.i)), to_numpy(std::move(list.j)),
                        to_numpy(std::move(list.score)));
}

py::tuple fm_pairs(const Doubles& V, double scale, long long k, const std::string& by,
                   int n_threads, bool simd, bool mixed) {
  if (V.ndim() != 2) throw std::invalid_argument("fm_top_pairs: V must be 2-D (n, r)");
  if (k < 1) throw std::invalid_argument("fm_top_pairs: k must be >= 1");
  const RankBy rank = parse_rank_by(by);
  const auto n = static_cast<std::size_t>(V.shape(0));
  const auto r = static_cast<std::size_t>(V.shape(1));
  const double* data = V.data();
  PairList out;
  {
    py::gil_scoped_release release;
    out = fm_top_pairs(data, n, r, scale, static_cast<std::size_t>(k), rank, n_threads, simd,
                       mixed);
  }
  return pair_arrays(std::move(out));
}

py::tuple sparse_pairs(const Int64s& indptr, const Int32s& indices, const Doubles& values,
                       long long n, const std::string& basis, const std::string& index, int order,
                       long long k, const std::string& by, int n_threads,
                       std::uint64_t max_terms) {
  const SparseSetView view = set_view(indptr, indices, values, n, "sparse_top_pairs");
  if (k < 1) throw std::invalid_argument("sparse_top_pairs: k must be >= 1");
  const Basis b = parse_basis(basis);
  const IndexKind kind = parse_index(index);
  const RankBy rank = parse_rank_by(by);
  std::size_t lo = 0;
  std::size_t hi = 0;
  index_orders(kind, order, &lo, &hi);
  if (hi < 2) throw std::invalid_argument("pair scores need an index order >= 2");
  PairList out;
  {
    py::gil_scoped_release release;
    const WeightTable weights =
        index_weights(kind, b, order, std::max<std::size_t>(view.max_order(), 2));
    out = sparse_top_pairs(view, weights, static_cast<std::size_t>(k), rank, n_threads,
                           max_terms);
  }
  return pair_arrays(std::move(out));
}

}  // namespace

void bind_pairs(py::module_& m) {
  m.def("fm_top_pairs", &fm_pairs, "V"_a.noconvert(), "scale"_a, "k"_a, "by"_a,
        "n_threads"_a = 0, "simd"_a = true, "mixed"_a = true,
        "Top-k pairs i<j of scale * <V_i, V_j> (arrays i, j, score); simd=False forces the "
        "portable Eigen kernel; mixed=False keeps the double-precision tiles (mixed: float "
        "tiles, candidates re-scored in double).");
  m.def(
      "measured_fma_rate",
      [](double seconds, int n_threads) {
        py::gil_scoped_release release;
        return measured_fma_rate(seconds, n_threads);
      },
      "seconds"_a = 0.5, "n_threads"_a = 0,
      "Single-precision lane FMAs per second on n_threads threads (AVX2 register loop); 0 "
      "without AVX2/FMA.");
  m.def("sparse_top_pairs", &sparse_pairs, "indptr"_a.noconvert(), "indices"_a.noconvert(),
        "values"_a.noconvert(), "n"_a, "basis"_a, "index"_a, "order"_a, "k"_a, "by"_a,
        "n_threads"_a = 0, "max_terms"_a = std::uint64_t{1} << 26,
        "Top-k pairs i<j of a pair index of a sparse set (arrays i, j, score).");
}

}  // namespace fastspex::bind
