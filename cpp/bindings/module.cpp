// Assembles fastspex._core: one bind_<area> call per area, plus the error translations.
#include <pybind11/pybind11.h>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"

namespace py = pybind11;

namespace fastspex::bind {
void bind_masks(py::module_& m);
void bind_transforms(py::module_& m);
void bind_indices(py::module_& m);
void bind_pairs(py::module_& m);
void bind_regression(py::module_& m);
void bind_trees(py::module_& m);
void bind_spex(py::module_& m);
}  // namespace fastspex::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastspex C++ core (private: use the fastspex package)";
  py::register_exception<fastspex::MemoryLimitError>(m, "MemoryLimitError", PyExc_MemoryError);
  m.attr("hardware_threads") = fastspex::resolve_threads(0);
  fastspex::bind::bind_masks(m);
  fastspex::bind::bind_transforms(m);
  fastspex::bind::bind_indices(m);
  fastspex::bind::bind_pairs(m);
  fastspex::bind::bind_regression(m);
  fastspex::bind::bind_trees(m);
  fastspex::bind::bind_spex(m);
}
