// Bindings for SPEX (docs/background.md, "SPEX"): BCH code facts and decoding, the delay rows,
// the recovery options and the recovery itself. Conversions and argument checks only; the work
// is in cpp/src/bch.cpp and cpp/src/spex.cpp.
#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <vector>

#include "convert.hpp"
#include "fastspex/bch.hpp"
#include "fastspex/spex.hpp"
#include "sparse_convert.hpp"

namespace fastspex::bind {
namespace {

using namespace pybind11::literals;

void require_code_args(long long n, int t) {
  require_n(n, "BCH");
  if (t < 1 || t > BchCode::kMaxT) {
    throw std::invalid_argument("BCH: t must lie in [1, " + std::to_string(BchCode::kMaxT) + "], got " +
                                std::to_string(t));
  }
}

py::dict bch_info(long long n, int t) {
  require_code_args(n, t);
  const BchCode code(static_cast<std::size_t>(n), t);
  std::vector<std::uint8_t> gen = code.generator();
  return py::dict("m"_a = code.m(), "length"_a = code.length(),
                  "redundancy"_a = code.redundancy(), "generator"_a = to_numpy(std::move(gen)));
}

Words spex_delays(long long n, int t, bool complement) {
  require_code_args(n, t);
  const BchCode code(static_cast<std::size_t>(n), t);
  Words out = new_words(code.redundancy() + 1, static_cast<std::size_t>(n), "spex_delays");
  BitRows rows = rows_of(out, static_cast<std::size_t>(n));
  py::gil_scoped_release release;
  fastspex::spex_delays(code, complement, rows);
  return out;
}

// Decodes each row of a (rows x r) 0/1 byte matrix of measured bits.
std::vector<std::tuple<bool, std::vector<std::uint32_t>, std::vector<std::uint32_t>>> bch_decode(
    long long n, int t, const Bytes& bits) {
  require_code_args(n, t);
  const BchCode code(static_cast<std::size_t>(n), t);
  if (bits.ndim() != 2 || static_cast<std::size_t>(bits.shape(1)) != code.redundancy()) {
    throw std::invalid_argument("bch_decode: bits must be a 2-D array with r = " +
                                std::to_string(code.redundancy()) + " columns");
  }
  const auto rows = static_cast<std::size_t>(bits.shape(0));
  const std::size_t r = code.redundancy();
  std::vector<std::tuple<bool, std::vector<std::uint32_t>, std::vector<std::uint32_t>>> out(rows);
  const std::uint8_t* src = bits.data();
  py::gil_scoped_release release;
  BchScratch scratch;
  std::vector<std::uint64_t> packed(code.column_words());
  for (std::size_t row = 0; row < rows; ++row) {
    std::fill(packed.begin(), packed.end(), 0);
    for (std::size_t q = 0; q < r; ++q) {
      if (src[row * r + q]) packed[q / 64] |= std::uint64_t{1} << (q % 64);
    }
    auto& [ok, comps, flips] = out[row];
    ok = code.decode(packed.data(), comps, flips, scratch);
  }
  return out;
}

py::tuple spex_recover(const Doubles& values, const Words& hashes, long long n, int b, int groups,
                       int t, int max_order, double residual_ratio, double noise_sd,
                       double noise_z, int chase_bits, int max_candidates, int max_iter,
                       double ridge, double prune_z, bool complement, int n_threads) {
  require_code_args(n, t);
  if (groups < 1) throw std::invalid_argument("spex_recover: groups must be >= 1");
  if (b < 1 || b > kSpexMaxB) {
    throw std::invalid_argument("spex_recover: b must lie in [1, " + std::to_string(kSpexMaxB) + "]");
  }
  ConstBitRows h = const_rows(hashes, n, "spex_recover");
  const BchCode code(static_cast<std::size_t>(n), t);
  const std::size_t expected = static_cast<std::size_t>(groups) * (code.redundancy() + 1) *
                               (std::size_t{1} << b);
  if (values.ndim() != 1 || static_cast<std::size_t>(values.shape(0)) != expected) {
    throw std::invalid_argument("spex_recover: expected " + std::to_string(expected) +
                                " values (groups * delays * 2^b)");
  }
  SpexOptions opt;
  opt.max_order = max_order;
  opt.residual_ratio = residual_ratio;
  opt.noise_sd = noise_sd;
  opt.noise_z = noise_z;
  opt.chase_bits = chase_bits;
  opt.max_candidates = max_candidates;
  opt.max_iter = max_iter;
  opt.ridge = ridge;
  opt.prune_z = prune_z;
  opt.complement = complement;
  opt.n_threads = n_threads;
  SpexRecovery rec;
  {
    py::gil_scoped_release release;
    rec = fastspex::spex_recover(values.data(), h, groups, b, code, opt);
  }
  py::dict stats("iterations"_a = rec.iterations, "detections"_a = rec.detections,
                 "peeled"_a = rec.peeled, "pruned"_a = rec.pruned,
                 "residual_fraction"_a = rec.residual_fraction, "rss"_a = rec.rss,
                 "tss"_a = rec.tss, "noise_sd_estimate"_a = rec.noise_sd_estimate);
  return py::make_tuple(to_numpy(std::move(rec.indptr)), to_numpy(std::move(rec.indices)),
                        to_numpy(std::move(rec.values)), stats);
}

void bind_options(py::module_& m) {
  py::class_<SpexOptions>(m, "SpexOptions",
                          "SPEX recovery options with their defaults (read-only; spex_recover "
                          "takes them as keyword arguments).")
      .def(py::init<>())
      .def_readonly("max_order", &SpexOptions::max_order,
                    "largest support size accepted (degree bound)")
      .def_readonly("residual_ratio", &SpexOptions::residual_ratio,
                    "a bin is a singleton if its residual energy is at most this fraction of it")
      .def_readonly("noise_sd", &SpexOptions::noise_sd,
                    "per-call output noise (units of the values); < 0: unknown")
      .def_readonly("noise_z", &SpexOptions::noise_z,
                    "with a known noise: energy and significance margins, in standard deviations")
      .def_readonly("chase_bits", &SpexOptions::chase_bits,
                    "soft decoding: least reliable measured bits tried flipped")
      .def_readonly("max_candidates", &SpexOptions::max_candidates,
                    "soft decoding: most flip patterns tried per bin")
      .def_readonly("max_iter", &SpexOptions::max_iter, "peeling rounds")
      .def_readonly("ridge", &SpexOptions::ridge, "ridge penalty of the refit (relative to C*P)")
      .def_readonly("prune_z", &SpexOptions::prune_z,
                    "the refit drops terms within prune_z standard errors of zero")
      .def_readonly("complement", &SpexOptions::complement,
                    "masks were complemented (all-kept mask at row 0)")
      .def_readonly("n_threads", &SpexOptions::n_threads, "threads (0: all cores)");
  m.attr("SPEX_MAX_B") = kSpexMaxB;
}

}  // namespace

void bind_spex(py::module_& m) {
  bind_options(m);
  const SpexOptions d;  // the keyword defaults are the struct's own
  m.def("bch_info", &bch_info, "n"_a, "t"_a,
        "Facts of the shortest t-error-correcting binary BCH code with n information positions.");
  m.def("bch_decode", &bch_decode, "n"_a, "t"_a, "bits"_a.noconvert(),
        "Decode rows of measured syndrome bits: (ok, components, flipped bits) per row.");
  m.def("spex_delays", &spex_delays, "n"_a, "t"_a, "complement"_a,
        "SPEX delay rows (zero delay first), packed.");
  m.def("spex_recover", &spex_recover, "values"_a.noconvert(), "hashes"_a.noconvert(), "n"_a,
        "b"_a, "groups"_a, "t"_a, "max_order"_a = d.max_order, "residual_ratio"_a = d.residual_ratio,
        "noise_sd"_a = d.noise_sd, "noise_z"_a = d.noise_z, "chase_bits"_a = d.chase_bits,
        "max_candidates"_a = d.max_candidates, "max_iter"_a = d.max_iter, "ridge"_a = d.ridge,
        "prune_z"_a = d.prune_z, "complement"_a = d.complement, "n_threads"_a = d.n_threads,
        "SPEX recovery from coded samples (b <= SPEX_MAX_B): (indptr, indices, values, stats).");
}

}  // namespace fastspex::bind
