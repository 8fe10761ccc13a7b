// Conversions between NumPy arrays and the core's views. Every check happens here, before any
// allocation, so bad input is a Python exception and never a crash.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "fastspex/bitmatrix.hpp"
#include "fastspex/errors.hpp"

namespace fastspex::bind {

namespace py = pybind11;
using Words = py::array_t<std::uint64_t, py::array::c_style>;
using Bytes = py::array_t<std::uint8_t, py::array::c_style>;
using Doubles = py::array_t<double, py::array::c_style>;

inline void require_n(long long n, const char* what) {
  if (n <= 0) throw std::invalid_argument(std::string(what) + ": n must be positive");
}

// A (rows x words_for(n)) uint64 array of packed masks, padding bits checked.
inline ConstBitRows const_rows(const Words& words, long long n, const char* what) {
  require_n(n, what);
  if (words.ndim() != 2) throw std::invalid_argument(std::string(what) + ": packed masks must be 2-D");
  const auto w = static_cast<std::size_t>(words.shape(1));
  if (w != words_for(static_cast<std::size_t>(n))) {
    throw std::invalid_argument(std::string(what) + ": packed masks have " + std::to_string(w) +
                                " words per row, expected " +
                                std::to_string(words_for(static_cast<std::size_t>(n))) +
                                " for n = " + std::to_string(n));
  }
  ConstBitRows view{words.data(), static_cast<std::size_t>(words.shape(0)),
                    static_cast<std::size_t>(n)};
  check_padding(view);
  return view;
}

// Allocates a zeroed (rows x words_for(n)) uint64 array after checking it fits in memory.
inline Words new_words(std::size_t rows, std::size_t n, const char* what) {
  const std::size_t w = words_for(n);
  require_bytes(checked_mul(checked_mul(rows, w, what), sizeof(std::uint64_t), what), what);
  Words out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(w)});
  return out;
}

inline BitRows rows_of(Words& words, std::size_t n) {
  return BitRows{words.mutable_data(), static_cast<std::size_t>(words.shape(0)), n};
}

}  // namespace fastspex::bind
