// NumPy <-> sparse coefficient set (CSR) conversions shared by the indices and pairs bindings.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "fastspex/sparse_set.hpp"

namespace fastspex::bind {

using Int64s = py::array_t<std::int64_t, py::array::c_style>;
using Int32s = py::array_t<std::int32_t, py::array::c_style>;

// A checked view over CSR arrays the caller keeps alive.
inline SparseSetView set_view(const Int64s& indptr, const Int32s& indices, const Doubles& values,
                              long long n, const char* what) {
  require_n(n, what);
  if (indptr.ndim() != 1 || indices.ndim() != 1 || values.ndim() != 1) {
    throw std::invalid_argument(std::string(what) + ": indptr, indices and values must be 1-D");
  }
  const auto K = static_cast<std::size_t>(values.shape(0));
  if (static_cast<std::size_t>(indptr.shape(0)) != K + 1) {
    throw std::invalid_argument(std::string(what) + ": indptr must have len(values) + 1 entries");
  }
  if (indptr.data()[K] != static_cast<std::int64_t>(indices.shape(0))) {
    throw std::invalid_argument(std::string(what) + ": indptr[-1] must equal len(indices)");
  }
  SparseSetView view{static_cast<std::size_t>(n), K, indptr.data(), indices.data(), values.data()};
  validate_set(view, what);
  return view;
}

// Moves a std::vector into a 1-D NumPy array without copying (the capsule owns the vector).
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(owned->size())}, owned->data(), owner);
}

inline py::tuple set_arrays(SparseSet&& set) {
  return py::make_tuple(to_numpy(std::move(set.indptr)), to_numpy(std::move(set.indices)),
                        to_numpy(std::move(set.values)));
}

}  // namespace fastspex::bind
