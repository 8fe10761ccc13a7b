// Mask engine bindings: conversions and argument checks only; the work is in cpp/src.
#include <pybind11/stl.h>

#include "convert.hpp"
#include "fastspex/designs.hpp"

namespace fastspex::bind {
namespace {

using namespace pybind11::literals;

Words pack(const Bytes& bytes, int n_threads) {
  if (bytes.ndim() != 2) throw std::invalid_argument("pack: masks must be a 2-D array");
  const auto m = static_cast<std::size_t>(bytes.shape(0));
  const auto n = static_cast<std::size_t>(bytes.shape(1));
  require_n(static_cast<long long>(n), "pack");
  Words out = new_words(m, n, "pack");
  BitRows rows = rows_of(out, n);
  const std::uint8_t* src = bytes.data();
  py::gil_scoped_release release;
  pack_bytes(src, rows, n_threads);
  return out;
}

py::array_t<bool> unpack(const Words& words, long long n, int n_threads) {
  ConstBitRows in = const_rows(words, n, "unpack");
  require_bytes(checked_mul(in.rows, in.n, "unpack"), "unpack");
  py::array_t<bool> out({static_cast<py::ssize_t>(in.rows), static_cast<py::ssize_t>(n)});
  auto* dst = reinterpret_cast<std::uint8_t*>(out.mutable_data());
  {
    py::gil_scoped_release release;
    unpack_bytes(in, dst, n_threads);
  }
  return out;
}

py::array_t<std::int64_t> popcount(const Words& words, long long n, int n_threads) {
  ConstBitRows in = const_rows(words, n, "popcount");
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(in.rows));
  std::int64_t* dst = out.mutable_data();
  py::gil_scoped_release release;
  row_popcounts(in, dst, n_threads);
  return out;
}

Words bernoulli(long long m, long long n, double p, std::uint64_t seed, int n_threads) {
  require_n(n, "bernoulli");
  if (m < 0) throw std::invalid_argument("bernoulli: m must be >= 0");
  if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("bernoulli: p must lie in [0, 1]");
  Words out = new_words(static_cast<std::size_t>(m), static_cast<std::size_t>(n), "bernoulli");
  BitRows rows = rows_of(out, static_cast<std::size_t>(n));
  py::gil_scoped_release release;
  design_bernoulli(rows, p, seed, n_threads);
  return out;
}

Words random_subsets(long long m, long long n, long long k_min, long long k_max, bool count_kept,
                     std::uint64_t seed, int n_threads) {
  require_n(n, "random_subsets");
  if (m < 0) throw std::invalid_argument("random_subsets: m must be >= 0");
  if (k_min < 0 || k_min > k_max || k_max > n) {
    throw std::invalid_argument("random_subsets: need 0 <= k_min <= k_max <= n");
  }
  Words out = new_words(static_cast<std::size_t>(m), static_cast<std::size_t>(n), "random_subsets");
  BitRows rows = rows_of(out, static_cast<std::size_t>(n));
  py::gil_scoped_release release;
  design_random_subsets(rows, static_cast<std::size_t>(k_min), static_cast<std::size_t>(k_max),
                        count_kept, seed, n_threads);
  return out;
}

Words leave_k_out(long long n, long long k_min, long long k_max, int n_threads) {
  require_n(n, "leave_k_out");
  if (k_min < 0 || k_min > k_max || k_max > n) {
    throw std::invalid_argument("leave_k_out: need 0 <= k_min <= k_max <= n");
  }
  const auto un = static_cast<std::size_t>(n);
  const std::size_t m =
      leave_k_out_rows(un, static_cast<std::size_t>(k_min), static_cast<std::size_t>(k_max));
  Words out = new_words(m, un, "leave_k_out");
  BitRows rows = rows_of(out, un);
  py::gil_scoped_release release;
  design_leave_k_out(rows, static_cast<std::size_t>(k_min), static_cast<std::size_t>(k_max),
                     n_threads);
  return out;
}

Words exhaustive(long long n, int n_threads) {
  require_n(n, "exhaustive");
  if (n > 24) throw std::invalid_argument("exhaustive: n must be <= 24 (2^n masks)");
  const auto un = static_cast<std::size_t>(n);
  Words out = new_words(std::size_t{1} << un, un, "exhaustive");
  BitRows rows = rows_of(out, un);
  py::gil_scoped_release release;
  design_exhaustive(rows, n_threads);
  return out;
}

Words gf2_subsample(const Words& h, const Words& delays, long long n, int n_threads) {
  ConstBitRows hv = const_rows(h, n, "gf2_subsample (H)");
  ConstBitRows dv = const_rows(delays, n, "gf2_subsample (delays)");
  if (hv.rows > static_cast<std::size_t>(n)) {
    throw std::invalid_argument("gf2_subsample: b (rows of H) must not exceed n");
  }
  if (hv.rows > 30) throw std::invalid_argument("gf2_subsample: b must be <= 30");
  if (dv.rows == 0) throw std::invalid_argument("gf2_subsample: need at least one delay");
  const std::size_t m = checked_mul(std::size_t{1} << hv.rows, dv.rows, "gf2_subsample");
  Words out = new_words(m, static_cast<std::size_t>(n), "gf2_subsample");
  BitRows rows = rows_of(out, static_cast<std::size_t>(n));
  py::gil_scoped_release release;
  design_gf2_subsample(hv, dv, rows, n_threads);
  return out;
}

py::tuple unique(const Words& words, long long n, int n_threads) {
  ConstBitRows in = const_rows(words, n, "unique");
  py::array_t<std::int64_t> inverse(static_cast<py::ssize_t>(in.rows));
  std::int64_t* inv = inverse.mutable_data();
  std::vector<std::int64_t> reps;
  {
    py::gil_scoped_release release;
    reps = unique_rows(in, inv, n_threads);
  }
  py::array_t<std::int64_t> first(static_cast<py::ssize_t>(reps.size()));
  std::copy(reps.begin(), reps.end(), first.mutable_data());
  return py::make_tuple(first, inverse);
}

}  // namespace

void bind_masks(py::module_& m) {
  m.def("pack", &pack, "masks"_a.noconvert(), "n_threads"_a = 0,
        "Pack a (m, n) uint8/bool matrix (nonzero = kept) into (m, ceil(n/64)) uint64 words.");
  m.def("unpack", &unpack, "words"_a.noconvert(), "n"_a, "n_threads"_a = 0,
        "Unpack (m, ceil(n/64)) uint64 words into an (m, n) bool matrix.");
  m.def("popcount", &popcount, "words"_a.noconvert(), "n"_a, "n_threads"_a = 0,
        "Number of kept components in each packed mask.");
  m.def("bernoulli", &bernoulli, "m"_a, "n"_a, "p"_a, "seed"_a, "n_threads"_a = 0,
        "m masks, each component kept independently with probability p.");
  m.def("random_subsets", &random_subsets, "m"_a, "n"_a, "k_min"_a, "k_max"_a, "count_kept"_a,
        "seed"_a, "n_threads"_a = 0,
        "m masks ablating (or keeping) k components, k uniform in [k_min, k_max].");
  m.def("leave_k_out", &leave_k_out, "n"_a, "k_min"_a, "k_max"_a, "n_threads"_a = 0,
        "Every subset of k_min..k_max components ablated from the full input.");
  m.def("exhaustive", &exhaustive, "n"_a, "n_threads"_a = 0,
        "All 2^n masks; row r keeps component j iff bit j of r is set.");
  m.def("gf2_subsample", &gf2_subsample, "h"_a.noconvert(), "delays"_a.noconvert(), "n"_a,
        "n_threads"_a = 0, "Rows (H^T l) XOR d for every delay d and every l in {0,1}^b.");
  m.def("unique", &unique, "words"_a.noconvert(), "n"_a, "n_threads"_a = 0,
        "Indices of the first occurrence of each distinct row, and the inverse map.");
}

}  // namespace fastspex::bind
