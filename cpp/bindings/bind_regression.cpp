// Bindings for sparse proxy regression: L1/elastic-net polynomial and factorization machine.
// Conversions and checks only; the work is in src/regression_*.cpp (regression.hpp) and src/fm.cpp
// (fm.hpp).
#include <pybind11/stl.h>

#include <cmath>

#include "convert.hpp"
#include "fastspex/fm.hpp"
#include "fastspex/regression.hpp"
#include "sparse_convert.hpp"

namespace fastspex::bind {
namespace {

using namespace pybind11::literals;

const double* targets(const Doubles& y, std::size_t rows, const char* what) {
  if (y.ndim() != 1 || static_cast<std::size_t>(y.shape(0)) != rows) {
    throw std::invalid_argument(std::string(what) + ": y must be 1-D with one value per mask");
  }
  const double* p = y.data();
  for (std::size_t s = 0; s < rows; ++s) {
    if (!std::isfinite(p[s])) throw std::invalid_argument(std::string(what) + ": y must be finite");
  }
  return p;
}

std::vector<Term> terms_of(const Int32s& a, const Int32s& b, long long n, const char* what) {
  if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0)) {
    throw std::invalid_argument(std::string(what) + ": term arrays must be 1-D of equal length");
  }
  std::vector<Term> out(static_cast<std::size_t>(a.shape(0)));
  for (std::size_t t = 0; t < out.size(); ++t) {
    out[t] = {a.data()[t], b.data()[t]};
    if (out[t].a < 0 || out[t].a >= n || out[t].b >= n || (out[t].b >= 0 && out[t].b <= out[t].a) ||
        out[t].b < -1) {
      throw std::invalid_argument(std::string(what) + ": terms must be mains (a, -1) or pairs a < b < n");
    }
  }
  return out;
}

PathOptions path_options(double l1_ratio, double tol, int max_sweeps, long long max_features,
                         long long pool, int n_threads) {
  if (max_sweeps < 1) throw std::invalid_argument("max_sweeps must be >= 1");
  if (max_features < 0 || pool < 0) throw std::invalid_argument("max_features and pool must be >= 0");
  PathOptions o;
  o.l1_ratio = l1_ratio;
  o.tol = tol;
  o.max_sweeps = max_sweeps;
  o.max_features = static_cast<std::size_t>(max_features);
  o.pool = static_cast<std::size_t>(pool);
  o.n_threads = n_threads;
  return o;
}

py::dict path(const Words& words, long long n, const Doubles& y, const Int32s& ta, const Int32s& tb,
              bool scan_pairs, const Doubles& alphas, long long n_alphas, double eps, double l1_ratio,
              double tol, int max_sweeps, long long max_features, long long pool, int n_threads) {
  ConstBitRows rows = const_rows(words, n, "poly_path");
  if (rows.rows < 2) throw std::invalid_argument("poly_path: need at least 2 masks");
  const double* py = targets(y, rows.rows, "poly_path");
  std::vector<Term> terms = terms_of(ta, tb, n, "poly_path");
  if (alphas.ndim() != 1) throw std::invalid_argument("poly_path: alphas must be 1-D");
  std::vector<double> grid(alphas.data(), alphas.data() + alphas.shape(0));
  if (n_alphas < 1) throw std::invalid_argument("poly_path: n_alphas must be >= 1");
  PathOptions opt = path_options(l1_ratio, tol, max_sweeps, max_features, pool, n_threads);
  opt.scan_pairs = scan_pairs;
  PathResult res;
  {
    py::gil_scoped_release release;
    res = lasso_path(rows, py, terms, std::move(grid), static_cast<std::size_t>(n_alphas), eps, opt);
  }
  std::vector<std::int32_t> oa, ob;
  for (const Term& t : res.terms) {
    oa.push_back(t.a);
    ob.push_back(t.b);
  }
  py::dict d;
  d["alphas"] = to_numpy(std::move(res.alphas));
  d["alpha_max"] = res.alpha_max;
  d["terms_a"] = to_numpy(std::move(oa));
  d["terms_b"] = to_numpy(std::move(ob));
  d["indptr"] = to_numpy(std::move(res.indptr));
  d["coef_terms"] = to_numpy(std::move(res.coef_terms));
  d["coef_values"] = to_numpy(std::move(res.coef_values));
  d["intercepts"] = to_numpy(std::move(res.intercepts));
  d["objectives"] = to_numpy(std::move(res.objectives));
  d["sweeps"] = to_numpy(std::move(res.sweeps));
  d["scans"] = res.scans;
  d["exact_checks"] = res.exact_checks;
  return d;
}

py::array_t<double> cv_mse(const Words& words, long long n, const Doubles& y, const Int32s& ta,
                           const Int32s& tb, const Doubles& alphas, const Int32s& fold_of, int folds,
                           double relaxed_ridge, double l1_ratio, double tol, int max_sweeps, long long max_features,
                           int n_threads) {
  ConstBitRows rows = const_rows(words, n, "poly_cv_mse");
  const double* py = targets(y, rows.rows, "poly_cv_mse");
  std::vector<Term> terms = terms_of(ta, tb, n, "poly_cv_mse");
  if (alphas.ndim() != 1 || alphas.shape(0) < 1) throw std::invalid_argument("poly_cv_mse: alphas must be 1-D, non-empty");
  if (fold_of.ndim() != 1 || static_cast<std::size_t>(fold_of.shape(0)) != rows.rows) {
    throw std::invalid_argument("poly_cv_mse: fold_of must have one entry per mask");
  }
  std::vector<double> grid(alphas.data(), alphas.data() + alphas.shape(0));
  PathOptions opt = path_options(l1_ratio, tol, max_sweeps, max_features, 0, n_threads);
  std::vector<double> mse;
  {
    py::gil_scoped_release release;
    mse = cv_path_mse(rows, py, terms, grid, fold_of.data(), folds, relaxed_ridge, opt);
  }
  return to_numpy(std::move(mse)).reshape({static_cast<py::ssize_t>(folds), alphas.shape(0)});
}

py::tuple poly_refit(const Words& words, long long n, const Doubles& y, const Int32s& ta,
                     const Int32s& tb, double ridge, int n_threads) {
  ConstBitRows rows = const_rows(words, n, "poly_refit");
  const double* py = targets(y, rows.rows, "poly_refit");
  std::vector<Term> terms = terms_of(ta, tb, n, "poly_refit");
  RefitResult res;
  {
    py::gil_scoped_release release;
    res = refit(rows, py, terms, ridge, n_threads);
  }
  return py::make_tuple(res.intercept, to_numpy(std::move(res.coef)), res.rss,
                        to_numpy(std::move(res.inv_diag)));
}

py::dict fm(const Words& words, long long n, const Doubles& y, const Bytes& is_val, long long rank,
            double l2_w, double l2_v, double init_std, int max_epochs, int patience, double tol,
            std::uint64_t seed, int n_threads) {
  ConstBitRows rows = const_rows(words, n, "fm_fit");
  const double* py = targets(y, rows.rows, "fm_fit");
  if (is_val.ndim() != 1 || static_cast<std::size_t>(is_val.shape(0)) != rows.rows) {
    throw std::invalid_argument("fm_fit: is_val must have one entry per mask");
  }
  if (rank < 1) throw std::invalid_argument("fm_fit: rank must be >= 1");
  if (!(init_std >= 0.0) || !std::isfinite(init_std)) throw std::invalid_argument("fm_fit: init_std must be >= 0");
  FmOptions o;
  o.rank = static_cast<std::size_t>(rank);
  o.l2_w = l2_w;
  o.l2_v = l2_v;
  o.init_std = init_std;
  o.max_epochs = max_epochs;
  o.patience = std::max(1, patience);
  o.tol = tol;
  o.seed = seed;
  o.n_threads = n_threads;
  FmResult res;
  {
    py::gil_scoped_release release;
    res = fm_fit(rows, py, is_val.data(), o);
  }
  py::dict d;
  d["w0"] = res.w0;
  d["w"] = to_numpy(std::move(res.w));
  d["V"] = to_numpy(std::move(res.V)).reshape({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(rank)});
  d["train_loss"] = to_numpy(std::move(res.train_loss));
  d["val_loss"] = to_numpy(std::move(res.val_loss));
  d["best_epoch"] = res.best_epoch;
  return d;
}

py::array_t<double> fm_pred(const Words& words, long long n, double w0, const Doubles& w,
                            const Doubles& V, int n_threads) {
  ConstBitRows rows = const_rows(words, n, "fm_predict");
  if (w.ndim() != 1 || w.shape(0) != n) throw std::invalid_argument("fm_predict: w must have n entries");
  if (V.ndim() != 2 || V.shape(0) != n || V.shape(1) < 1) {
    throw std::invalid_argument("fm_predict: V must be (n, r) with r >= 1");
  }
  py::array_t<double> out(static_cast<py::ssize_t>(rows.rows));
  double* dst = out.mutable_data();
  const double* pw = w.data();
  const double* pv = V.data();
  const auto r = static_cast<std::size_t>(V.shape(1));
  {
    py::gil_scoped_release release;
    fm_predict(rows, w0, pw, pv, r, dst, n_threads);
  }
  return out;
}

void bind_options(py::module_& m) {
  py::class_<PathOptions>(m, "PathOptions",
                          "The elastic-net path's options with their defaults (read-only; the "
                          "poly_* functions take them as keyword arguments).")
      .def(py::init<>())
      .def_readonly("l1_ratio", &PathOptions::l1_ratio, "rho in (0, 1]; 1 is the lasso")
      .def_readonly("tol", &PathOptions::tol,
                    "a solve stops when max_j G_jj d_j^2 < tol * ||y - mean||^2")
      .def_readonly("max_sweeps", &PathOptions::max_sweeps, "coordinate sweeps per penalty")
      .def_readonly("max_features", &PathOptions::max_features,
                    "stop the path once more terms are active (0: no limit)")
      .def_readonly("scan_pairs", &PathOptions::scan_pairs,
                    "candidates: all mains and all pairs (else the given terms)")
      .def_readonly("pool", &PathOptions::pool,
                    "scanned pairs kept with their gradient (0: automatic)")
      .def_readonly("n_threads", &PathOptions::n_threads, "threads (0: all cores)");
  py::class_<FmOptions>(m, "FmOptions",
                        "The factorization machine's options with their defaults (read-only; "
                        "fm_fit takes them as keyword arguments).")
      .def(py::init<>())
      .def_readonly("rank", &FmOptions::rank, "embedding dimension")
      .def_readonly("l2_w", &FmOptions::l2_w, "penalty on the main effects, per sample")
      .def_readonly("l2_v", &FmOptions::l2_v, "penalty on the embeddings, per sample")
      .def_readonly("init_std", &FmOptions::init_std,
                    "standard deviation of the starting embeddings")
      .def_readonly("max_epochs", &FmOptions::max_epochs, "most ALS epochs")
      .def_readonly("patience", &FmOptions::patience,
                    "epochs without progress before stopping")
      .def_readonly("tol", &FmOptions::tol,
                    "relative improvement of the monitored loss that counts as progress")
      .def_readonly("seed", &FmOptions::seed, "seeds the starting embeddings")
      .def_readonly("n_threads", &FmOptions::n_threads, "threads (0: all cores)");
}

}  // namespace

void bind_regression(py::module_& m) {
  bind_options(m);
  // Keyword defaults are the option structs' own, so each default is set once, in C++.
  const PathOptions path_defaults;
  const FmOptions fm_defaults;
  const auto max_features = static_cast<long long>(path_defaults.max_features);
  m.def("poly_path", &path, "words"_a.noconvert(), "n"_a, "y"_a.noconvert(), "terms_a"_a.noconvert(),
        "terms_b"_a.noconvert(), "scan_pairs"_a, "alphas"_a.noconvert(), "n_alphas"_a, "eps"_a,
        "l1_ratio"_a = path_defaults.l1_ratio, "tol"_a = path_defaults.tol,
        "max_sweeps"_a = path_defaults.max_sweeps, "max_features"_a = max_features,
        "pool"_a = static_cast<long long>(path_defaults.pool), "n_threads"_a = path_defaults.n_threads,
        "Elastic-net path over main effects and pair products of packed masks.");
  m.def("poly_cv_mse", &cv_mse, "words"_a.noconvert(), "n"_a, "y"_a.noconvert(),
        "terms_a"_a.noconvert(), "terms_b"_a.noconvert(), "alphas"_a.noconvert(),
        "fold_of"_a.noconvert(), "folds"_a, "relaxed_ridge"_a, "l1_ratio"_a = path_defaults.l1_ratio,
        "tol"_a = path_defaults.tol, "max_sweeps"_a = path_defaults.max_sweeps,
        "max_features"_a = max_features, "n_threads"_a = path_defaults.n_threads,
        "Held-out MSE (folds x alphas) of the elastic-net path on the given terms (of the\n"
        "least-squares refit of each support when relaxed_ridge >= 0).");
  m.def("poly_refit", &poly_refit, "words"_a.noconvert(), "n"_a, "y"_a.noconvert(),
        "terms_a"_a.noconvert(), "terms_b"_a.noconvert(), "ridge"_a, "n_threads"_a = 0,
        "Least-squares refit of y on the given terms: (intercept, coefficients, rss, diagonal of\n"
        "the inverse centred Gram, empty if singular).");
  m.def("fm_fit", &fm, "words"_a.noconvert(), "n"_a, "y"_a.noconvert(), "is_val"_a.noconvert(),
        "rank"_a = static_cast<long long>(fm_defaults.rank), "l2_w"_a = fm_defaults.l2_w,
        "l2_v"_a = fm_defaults.l2_v, "init_std"_a = fm_defaults.init_std,
        "max_epochs"_a = fm_defaults.max_epochs, "patience"_a = fm_defaults.patience,
        "tol"_a = fm_defaults.tol, "seed"_a = fm_defaults.seed, "n_threads"_a = fm_defaults.n_threads,
        "Factorization machine fitted by ALS with early stopping.");
  m.def("fm_predict", &fm_pred, "words"_a.noconvert(), "n"_a, "w0"_a, "w"_a.noconvert(),
        "V"_a.noconvert(), "n_threads"_a = 0, "Factorization-machine predictions on packed masks.");
}

}  // namespace fastspex::bind
