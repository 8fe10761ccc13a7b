// Dense transform bindings (all 2^n values at once, n <= 30).
#include "convert.hpp"
#include "fastspex/dense_transforms.hpp"

namespace fastspex::bind {
namespace {

using namespace pybind11::literals;

template <void (*Transform)(double*, std::size_t, int)>
Doubles dense(const Doubles& values, int n_threads) {
  if (values.ndim() != 1) throw std::invalid_argument("values must be 1-D");
  const auto len = static_cast<std::size_t>(values.shape(0));
  if (len == 0 || (len & (len - 1)) != 0) {
    throw std::invalid_argument("values must have length 2^n");
  }
  const auto log2_len = static_cast<std::size_t>(__builtin_ctzll(len));
  Doubles out(static_cast<py::ssize_t>(len));
  std::copy(values.data(), values.data() + len, out.mutable_data());
  double* v = out.mutable_data();
  py::gil_scoped_release release;
  Transform(v, log2_len, n_threads);
  return out;
}

}  // namespace

void bind_transforms(py::module_& m) {
  m.def("fwht", &dense<fwht_inplace>, "values"_a.noconvert(), "n_threads"_a = 0,
        "Unnormalised Walsh-Hadamard transform of 2^n values.");
  m.def("mobius", &dense<mobius_inplace>, "values"_a.noconvert(), "n_threads"_a = 0,
        "Möbius transform of a set function given on all 2^n masks.");
  m.def("zeta", &dense<zeta_inplace>, "values"_a.noconvert(), "n_threads"_a = 0,
        "Inverse Möbius (zeta) transform: sums over subsets.");
}

}  // namespace fastspex::bind
