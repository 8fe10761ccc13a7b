// Bindings for SPEX: WHT blocks, BCH decoding, peeling (issue 5).
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace fastspex::bind {
void bind_spex(py::module_& m) {
  (void)m;  // filled in by the spex work
}
}  // namespace fastspex::bind
