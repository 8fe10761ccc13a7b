// Bindings for tree ensemble -> exact Fourier extraction (ProxySPEX, issue 4).
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace fastspex::bind {
void bind_trees(py::module_& m) {
  (void)m;  // filled in by the trees work
}
}  // namespace fastspex::bind
