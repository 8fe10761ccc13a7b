// Error types and pre-allocation checks shared by every kernel.
// std::invalid_argument -> ValueError, std::out_of_range -> IndexError (pybind11 defaults);
// MemoryLimitError -> MemoryError, registered in bindings/module.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace fastspex {

class MemoryLimitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Multiplies sizes, throwing instead of wrapping around on overflow.
inline std::size_t checked_mul(std::size_t a, std::size_t b, const char* what) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) {
    throw MemoryLimitError(std::string(what) + ": size overflows the address space");
  }
  return a * b;
}

// Physical memory of the machine in bytes (0 if unknown).
std::size_t physical_memory_bytes();

// Refuses an allocation that cannot fit in this machine's memory, before it is attempted,
// so a huge request becomes a Python MemoryError rather than an abort or the OOM killer.
void require_bytes(std::size_t bytes, const char* what);

}  // namespace fastspex
