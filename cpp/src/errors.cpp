#include "fastspex/errors.hpp"

#include <unistd.h>

namespace fastspex {

std::size_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size);
}

void require_bytes(std::size_t bytes, const char* what) {
  const std::size_t total = physical_memory_bytes();
  // Leave room for the interpreter, the model and the copies a caller makes of the result.
  if (total != 0 && bytes > total / 10 * 8) {
    throw MemoryLimitError(std::string(what) + " needs " + std::to_string(bytes >> 20) +
                           " MiB, more than 80% of this machine's " +
                           std::to_string(total >> 20) + " MiB of memory");
  }
}

}  // namespace fastspex
