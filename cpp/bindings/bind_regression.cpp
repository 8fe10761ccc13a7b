// Bindings for sparse proxy regression: L1/elastic-net polynomial and factorization machine (issue 3).
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace fastspex::bind {
void bind_regression(py::module_& m) {
  (void)m;  // filled in by the regression work
}
}  // namespace fastspex::bind
