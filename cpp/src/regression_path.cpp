// Elastic-net path over main effects and pairwise products of 0/1 mask bits (regression.hpp).
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"
#include "fastspex/regression_kernels.hpp"

namespace fastspex {
namespace regression {
namespace {

double soft(double z, double t) { return z > t ? z - t : (z < -t ? z + t : 0.0); }

// One design (bit columns + centred targets) and the state of its elastic-net path.
class Solver {
 public:
  Solver(const BitColumns& X, std::vector<double> y, const std::vector<Term>& terms,
         const PathOptions& opt)
      : X_(X), opt_(opt), m_(X.m), md_(static_cast<double>(X.m)) {
    ybar_ = 0.0;
    for (double v : y) ybar_ += v;
    ybar_ /= md_;
    yc_ = std::move(y);
    yy_ = 0.0;
    for (double& v : yc_) {
      v -= ybar_;
      yy_ += v * v;
    }
    ytab_.build(yc_.data(), m_, opt.n_threads);
    r_ = yc_;
    rsum_ = 0.0;
    if (opt.scan_pairs) {
      for (std::size_t a = 0; a < X.n; ++a) mains_.push_back({static_cast<std::int32_t>(a), -1});
      if (X.n >= 2) {
        scanner_ = std::make_unique<PairScanner>(X, opt.n_threads);
        const std::size_t all = X.n * (X.n - 1) / 2;
        keep_ = opt.pool ? opt.pool : std::max<std::size_t>(4096, 32 * X.n);
        keep_ = std::min(keep_, all);
      }
      rescan(false);
    } else {
      // A fixed candidate list: every candidate's gradient follows from its covariance with
      // the working set (x̃_pᵀr = x̃_pᵀy - Σ_k G_pk β_k), so KKT checks never touch the samples.
      pool_ = terms;
      fixed_ = true;
      pool_xty_.assign(pool_.size(), 0.0);
      pool_cnt_.assign(pool_.size(), 0.0);
      in_ws_.assign(pool_.size(), 0);
      parallel_for(0, pool_.size(), 256, opt.n_threads, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t p = lo; p < hi; ++p) {
          const Term& t = pool_[p];
          const std::uint64_t* A = X_.col(static_cast<std::size_t>(t.a));
          if (t.is_pair()) {
            const std::uint64_t* B = X_.col(static_cast<std::size_t>(t.b));
            pool_xty_[p] = ytab_.sum_and(A, B, X_.words);
            pool_cnt_[p] = static_cast<double>(and_popcount(A, B, X_.words));
          } else {
            pool_xty_[p] = ytab_.sum(A, X_.words);
            pool_cnt_[p] = X_.counts[static_cast<std::size_t>(t.a)];
          }
        }
      });
      pool_c_ = pool_xty_;
    }
  }

  double alpha_max() const {
    double best = 0.0;
    for (double c : pool_c_) best = std::max(best, std::fabs(c));
    return best / (md_ * opt_.l1_ratio);
  }

  // Solves at penalty alpha, warm-started; returns coordinate sweeps used.
  int solve(double alpha, std::size_t* exact_checks) {
    t1_ = md_ * alpha * opt_.l1_ratio;
    t2_ = md_ * alpha * (1.0 - opt_.l1_ratio);
    int sweeps = 0;
    for (;;) {
      sweeps += cd();
      std::vector<std::size_t> add = fixed_ ? fixed_violators(exact_checks) : violators(exact_checks);
      if (add.empty()) break;
      for (std::size_t p : add) {
        add_term(pool_[p]);
        if (fixed_) in_ws_[p] = 1;
      }
      finish_gram();
    }
    return sweeps;
  }

  std::size_t active() const {
    std::size_t a = 0;
    for (double b : beta_) a += b != 0.0;
    return a;
  }
  double intercept() const {
    double b0 = ybar_;
    for (std::size_t j = 0; j < ws_.size(); ++j) b0 -= beta_[j] * ws_[j].mu;
    return b0;
  }
  double objective(double alpha) const {
    double rr = yy_, l1 = 0.0, l2 = 0.0;
    for (std::size_t j = 0; j < ws_.size(); ++j) {
      rr -= beta_[j] * (ws_[j].xty + q_[j]);
      l1 += std::fabs(beta_[j]);
      l2 += beta_[j] * beta_[j];
    }
    return rr / (2 * md_) + alpha * (opt_.l1_ratio * l1 + 0.5 * (1 - opt_.l1_ratio) * l2);
  }
  const std::vector<double>& beta() const { return beta_; }

  // Least squares on the active terms (ridge · mean Gram diagonal added), the "relaxed" fit:
  // coefficients per working-set index (zero off the support) and the intercept.
  double relaxed(double ridge, std::vector<double>* out) const {
    std::vector<std::size_t> act;
    for (std::size_t j = 0; j < ws_.size(); ++j) {
      if (beta_[j] != 0.0) act.push_back(j);
    }
    out->assign(ws_.size(), 0.0);
    if (act.empty()) return ybar_;
    const auto k = static_cast<Eigen::Index>(act.size());
    Eigen::MatrixXd G(k, k);
    Eigen::VectorXd b(k);
    for (Eigen::Index i = 0; i < k; ++i) {
      b[i] = ws_[act[static_cast<std::size_t>(i)]].xty;
      for (Eigen::Index j = 0; j < k; ++j) {
        G(i, j) = G_[act[static_cast<std::size_t>(i)] * cap_ + act[static_cast<std::size_t>(j)]];
      }
    }
    G.diagonal().array() += ridge * G.diagonal().mean();
    Eigen::VectorXd beta = G.ldlt().solve(b);
    double b0 = ybar_;
    for (Eigen::Index i = 0; i < k; ++i) {
      const std::size_t j = act[static_cast<std::size_t>(i)];
      (*out)[j] = std::isfinite(beta[i]) ? beta[i] : 0.0;
      b0 -= (*out)[j] * ws_[j].mu;
    }
    return b0;
  }
  Term term(std::size_t j) const { return ws_[j].t; }
  std::size_t working() const { return ws_.size(); }
  std::size_t scans() const { return scans_; }

 private:
  struct Col {
    Term t;
    std::vector<std::uint64_t> own;  // pair bits (mains point into X)
    const std::uint64_t* bits = nullptr;
    double cnt = 0.0, mu = 0.0, xty = 0.0;
  };

  const std::uint64_t* a_bits(const Term& t) const { return X_.col(static_cast<std::size_t>(t.a)); }

  void add_term(const Term& t) {
    if (ws_index_.count(t.key())) return;
    Col c;
    c.t = t;
    if (t.is_pair()) {
      const std::uint64_t* A = X_.col(static_cast<std::size_t>(t.a));
      const std::uint64_t* B = X_.col(static_cast<std::size_t>(t.b));
      c.own.resize(X_.words);
      for (std::size_t k = 0; k < X_.words; ++k) c.own[k] = A[k] & B[k];
      c.bits = c.own.data();
      c.cnt = static_cast<double>(popcount_words(c.bits, X_.words));
    } else {
      c.bits = a_bits(t);
      c.cnt = X_.counts[static_cast<std::size_t>(t.a)];
    }
    c.mu = c.cnt / md_;
    c.xty = ytab_.sum(c.bits, X_.words);  // Σ yc = 0, so no centring term
    ws_index_.emplace(t.key(), ws_.size());
    ws_.push_back(std::move(c));
    if (ws_.back().own.size()) ws_.back().bits = ws_.back().own.data();
    beta_.push_back(0.0);
    q_.push_back(0.0);
  }

  // Gram rows/columns of the terms added since the last call, then their gradients.
  void finish_gram() {
    const std::size_t k = ws_.size();
    if (k > cap_) {
      std::size_t cap = std::max<std::size_t>(64, cap_);
      while (cap < k) cap *= 2;
      require_bytes(checked_mul(checked_mul(cap, cap, "regression"), 8, "regression"), "regression");
      std::vector<double> G(cap * cap, 0.0);
      for (std::size_t i = 0; i < gram_done_; ++i) {
        std::copy(G_.begin() + static_cast<std::ptrdiff_t>(i * cap_),
                  G_.begin() + static_cast<std::ptrdiff_t>(i * cap_ + gram_done_),
                  G.begin() + static_cast<std::ptrdiff_t>(i * cap));
      }
      G_.swap(G);
      cap_ = cap;
    }
    const std::size_t first = gram_done_;
    parallel_for(first, k, 4, (k - first) * k > 4096 ? opt_.n_threads : 1,
                 [&](std::size_t lo, std::size_t hi) {
                   for (std::size_t j = lo; j < hi; ++j) {
                     for (std::size_t i = 0; i <= j; ++i) {
                       const double g =
                           static_cast<double>(and_popcount(ws_[i].bits, ws_[j].bits, X_.words)) -
                           ws_[i].cnt * ws_[j].cnt / md_;
                       G_[j * cap_ + i] = g;
                       G_[i * cap_ + j] = g;
                     }
                   }
                 });
    if (fixed_) {
      gpa_.resize(k);
      const std::size_t P = pool_.size();
      require_bytes(checked_mul(checked_mul(P, k, "regression"), 8, "regression"), "regression");
      for (std::size_t j = first; j < k; ++j) {
        std::vector<double>& col = gpa_[j];
        col.resize(P);
        const Col& c = ws_[j];
        parallel_for(0, P, 256, P > 1024 ? opt_.n_threads : 1, [&](std::size_t lo, std::size_t hi) {
          for (std::size_t p = lo; p < hi; ++p) {
            const Term& t = pool_[p];
            const std::uint64_t* A = X_.col(static_cast<std::size_t>(t.a));
            const double both = static_cast<double>(
                t.is_pair() ? and3_popcount(A, X_.col(static_cast<std::size_t>(t.b)), c.bits, X_.words)
                            : and_popcount(A, c.bits, X_.words));
            col[p] = both - pool_cnt_[p] * c.cnt / md_;
          }
        });
      }
    }
    for (std::size_t j = first; j < k; ++j) {
      double qj = ws_[j].xty;
      for (std::size_t i = 0; i < k; ++i) qj -= G_[j * cap_ + i] * beta_[i];
      q_[j] = qj;
    }
    gram_done_ = k;
  }

  // Coordinate descent with covariance updates over the working set until converged.
  int cd() {
    const std::size_t k = ws_.size();
    const double stop = opt_.tol * yy_;
    int sweeps = 0;
    std::vector<std::size_t> all(k), act;
    for (std::size_t j = 0; j < k; ++j) all[j] = j;
    for (;;) {
      double d = sweep(all);
      ++sweeps;
      if (d <= stop || sweeps >= opt_.max_sweeps) break;
      act.clear();
      for (std::size_t j = 0; j < k; ++j) {
        if (beta_[j] != 0.0) act.push_back(j);
      }
      while (sweeps < opt_.max_sweeps) {
        d = sweep(act);
        ++sweeps;
        if (d <= stop) break;
      }
      if (sweeps >= opt_.max_sweeps) break;
    }
    return sweeps;
  }

  double sweep(const std::vector<std::size_t>& idx) {
    const std::size_t k = ws_.size();
    double dmax = 0.0;
    for (std::size_t j : idx) {
      const double gjj = G_[j * cap_ + j];
      if (gjj <= 0.0) continue;  // constant column: never enters
      const double b = beta_[j];
      const double bn = soft(q_[j] + gjj * b, t1_) / (gjj + t2_);
      const double d = bn - b;
      if (d == 0.0) continue;
      beta_[j] = bn;
      const double* Gj = G_.data() + j * cap_;
      for (std::size_t i = 0; i < k; ++i) q_[i] -= Gj[i] * d;
      dmax = std::max(dmax, gjj * d * d);
    }
    return dmax;
  }

  // Residual r = yc - Σ β_j x̃_j of the current solution.
  void residual() {
    r_ = yc_;
    double shift = 0.0;
    for (std::size_t j = 0; j < ws_.size(); ++j) {
      if (beta_[j] == 0.0) continue;
      shift += beta_[j] * ws_[j].mu;
      subtract_on_bits(ws_[j].bits, X_.words, beta_[j], r_.data());
    }
    rsum_ = 0.0;
    for (double& v : r_) {
      v += shift;
      rsum_ += v;
    }
    rtab_.build(r_.data(), m_, opt_.n_threads);
  }

  // x̃_tᵀ r for the current residual (its table must be built); ||x̃_t|| into *norm.
  double exact_c(const Term& t, double* norm) const {
    const std::uint64_t* A = X_.col(static_cast<std::size_t>(t.a));
    double s, cnt;
    if (t.is_pair()) {
      const std::uint64_t* B = X_.col(static_cast<std::size_t>(t.b));
      s = rtab_.sum_and(A, B, X_.words);
      cnt = static_cast<double>(and_popcount(A, B, X_.words));
    } else {
      s = rtab_.sum(A, X_.words);
      cnt = X_.counts[static_cast<std::size_t>(t.a)];
    }
    if (norm) *norm = std::sqrt(std::max(0.0, cnt * (1.0 - cnt / md_)));
    return s - cnt / md_ * rsum_;
  }

  // Exact gradients of every pool term at the current residual, which becomes the reference.
  void refresh_pool(bool table_ready) {
    if (!table_ready) rtab_.build(r_.data(), m_, opt_.n_threads);
    pool_c_.assign(pool_.size(), 0.0);
    pool_norm_.assign(pool_.size(), 0.0);
    parallel_for(0, pool_.size(), 512, opt_.n_threads, [&](std::size_t lo, std::size_t hi) {
      for (std::size_t p = lo; p < hi; ++p) pool_c_[p] = exact_c(pool_[p], &pool_norm_[p]);
    });
    r_pool_ = r_;
  }

  void rescan(bool table_ready) {
    pool_ = mains_;
    rest_ = 0.0;
    if (scanner_) {
      PairScan s = scanner_->scan(r_.data(), keep_);
      double abs_sum = 0.0;
      for (double v : r_) abs_sum += std::fabs(v);
      // Float accumulation error of the GEMM scan and the dropped centring term μ Σr.
      rest_ = s.rest + 1e-4 * abs_sum + std::fabs(rsum_);
      if (s.pairs.size() == X_.n * (X_.n - 1) / 2) rest_ = 0.0;  // every pair is in the pool
      pool_.insert(pool_.end(), s.pairs.begin(), s.pairs.end());
      r_scan_ = r_;
      ++scans_;
    }
    refresh_pool(table_ready);
  }

  static double dist(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
    return std::sqrt(s);
  }

  // Fixed candidates: gradients from the covariances with the working set, no residual.
  std::vector<std::size_t> fixed_violators(std::size_t* exact_checks) {
    const std::size_t P = pool_.size();
    std::vector<double>& c = pool_c_;
    c = pool_xty_;
    for (std::size_t k = 0; k < ws_.size(); ++k) {
      const double b = beta_[k];
      if (b == 0.0) continue;
      const double* g = gpa_[k].data();
      for (std::size_t p = 0; p < P; ++p) c[p] -= b * g[p];
    }
    if (exact_checks) *exact_checks += P;
    const double slack = 1e-7 * t1_;
    std::vector<std::pair<double, std::size_t>> v;
    for (std::size_t p = 0; p < P; ++p) {
      if (!in_ws_[p] && std::fabs(c[p]) > t1_ + slack) v.push_back({std::fabs(c[p]), p});
    }
    std::sort(v.begin(), v.end(), [&](const auto& x, const auto& y) {
      return x.first > y.first || (x.first == y.first && x.second < y.second);
    });
    std::vector<std::size_t> out;
    for (const auto& e : v) out.push_back(e.second);
    return out;
  }

  // Pool terms outside the working set whose |gradient| exceeds the penalty, largest first.
  std::vector<std::size_t> violators(std::size_t* exact_checks) {
    residual();
    const double slack = 1e-7 * t1_;
    if (scanner_ && rest_ > 0.0) {
      const double bound = rest_ + 0.5 * std::sqrt(md_) * dist(r_, r_scan_);
      if (bound >= t1_) rescan(true);
    }
    const double d = dist(r_, r_pool_);
    std::vector<std::size_t> check;
    for (std::size_t p = 0; p < pool_.size(); ++p) {
      if (std::fabs(pool_c_[p]) + pool_norm_[p] * d > t1_ + slack && !ws_index_.count(pool_[p].key())) {
        check.push_back(p);
      }
    }
    std::vector<double> c(check.size());
    if (check.size() > pool_.size() / 8) {
      refresh_pool(true);
      for (std::size_t t = 0; t < check.size(); ++t) c[t] = pool_c_[check[t]];
    } else {
      parallel_for(0, check.size(), 256, check.size() > 512 ? opt_.n_threads : 1,
                   [&](std::size_t lo, std::size_t hi) {
                     for (std::size_t t = lo; t < hi; ++t) c[t] = exact_c(pool_[check[t]], nullptr);
                   });
    }
    if (exact_checks) *exact_checks += check.size();
    std::vector<std::pair<double, std::size_t>> v;
    for (std::size_t t = 0; t < check.size(); ++t) {
      if (std::fabs(c[t]) > t1_ + slack) v.push_back({std::fabs(c[t]), check[t]});
    }
    std::sort(v.begin(), v.end(), [&](const auto& x, const auto& y) {
      return x.first > y.first || (x.first == y.first && pool_[x.second].key() < pool_[y.second].key());
    });
    std::vector<std::size_t> out;
    for (const auto& e : v) out.push_back(e.second);
    return out;
  }

  const BitColumns& X_;
  PathOptions opt_;
  std::size_t m_;
  double md_;
  double ybar_ = 0.0, yy_ = 0.0, t1_ = 0.0, t2_ = 0.0;
  std::vector<double> yc_, r_, r_pool_, r_scan_;
  double rsum_ = 0.0;
  ByteTable ytab_, rtab_;
  // Working set.
  std::vector<Col> ws_;
  std::unordered_map<std::uint64_t, std::size_t> ws_index_;
  std::vector<double> G_, beta_, q_;
  std::size_t cap_ = 0, gram_done_ = 0;
  // Candidate pool with reference gradients c_p = x̃_pᵀ r_pool and norms ||x̃_p||.
  std::vector<Term> pool_, mains_;
  std::vector<double> pool_c_, pool_norm_;
  // Fixed candidate lists: x̃_pᵀy, counts, membership and covariances with the working set.
  bool fixed_ = false;
  std::vector<double> pool_xty_, pool_cnt_;
  std::vector<char> in_ws_;
  std::vector<std::vector<double>> gpa_;
  // All-pairs scanning.
  std::unique_ptr<PairScanner> scanner_;
  std::size_t keep_ = 0, scans_ = 0;
  double rest_ = 0.0;  // bound on |x̃ᵀ r_scan| for pairs outside the pool
};

void check_terms(const std::vector<Term>& terms, std::size_t n) {
  for (const Term& t : terms) {
    if (t.a < 0 || static_cast<std::size_t>(t.a) >= n || t.b >= static_cast<std::int64_t>(n) ||
        (t.b >= 0 && t.b <= t.a)) {
      throw std::invalid_argument("regression: terms must be mains (a, -1) or pairs a < b < n");
    }
  }
}

void check_options(const PathOptions& opt) {
  if (!(opt.l1_ratio > 0.0 && opt.l1_ratio <= 1.0)) {
    throw std::invalid_argument("regression: l1_ratio must lie in (0, 1]");
  }
  if (!(opt.tol > 0.0)) throw std::invalid_argument("regression: tol must be positive");
}

std::vector<double> take_rows(const double* y, const std::uint32_t* rows, std::size_t m) {
  std::vector<double> out(m);
  for (std::size_t s = 0; s < m; ++s) out[s] = y[rows ? rows[s] : s];
  return out;
}

}  // namespace
}  // namespace regression

std::vector<double> alpha_grid(double amax, std::size_t n_alphas, double eps) {
  if (n_alphas == 0) throw std::invalid_argument("regression: n_alphas must be >= 1");
  if (!(eps > 0.0 && eps < 1.0)) throw std::invalid_argument("regression: eps must lie in (0, 1)");
  std::vector<double> out(n_alphas);
  for (std::size_t k = 0; k < n_alphas; ++k) {
    const double t = n_alphas == 1 ? 0.0 : static_cast<double>(k) / static_cast<double>(n_alphas - 1);
    out[k] = amax * std::pow(eps, t);
  }
  return out;
}

double alpha_max(ConstBitRows masks, const double* y, const std::vector<Term>& terms,
                 const PathOptions& opt) {
  regression::check_options(opt);
  regression::check_terms(terms, masks.n);
  BitColumns X = transpose_rows(masks, nullptr, 0, opt.n_threads);
  regression::Solver s(X, regression::take_rows(y, nullptr, masks.rows), terms, opt);
  return s.alpha_max();
}

PathResult lasso_path(ConstBitRows masks, const double* y, const std::vector<Term>& terms,
                      std::vector<double> alphas, std::size_t n_alphas, double eps,
                      const PathOptions& opt) {
  regression::check_options(opt);
  regression::check_terms(terms, masks.n);
  for (std::size_t k = 0; k < alphas.size(); ++k) {
    if (!(alphas[k] >= 0.0) || !std::isfinite(alphas[k]) || (k && alphas[k] > alphas[k - 1])) {
      throw std::invalid_argument("regression: alphas must be finite, >= 0 and non-increasing");
    }
  }
  BitColumns X = transpose_rows(masks, nullptr, 0, opt.n_threads);
  regression::Solver s(X, regression::take_rows(y, nullptr, masks.rows), terms, opt);
  PathResult out;
  out.alpha_max = s.alpha_max();
  if (alphas.empty()) alphas = alpha_grid(out.alpha_max, n_alphas, eps);
  for (double a : alphas) {
    out.sweeps.push_back(s.solve(a, &out.exact_checks));
    out.alphas.push_back(a);
    for (std::size_t j = 0; j < s.working(); ++j) {
      if (s.beta()[j] != 0.0) {
        out.coef_terms.push_back(static_cast<std::int32_t>(j));
        out.coef_values.push_back(s.beta()[j]);
      }
    }
    out.indptr.push_back(static_cast<std::int64_t>(out.coef_terms.size()));
    out.intercepts.push_back(s.intercept());
    out.objectives.push_back(s.objective(a));
    if (opt.max_features && s.active() > opt.max_features) break;
  }
  for (std::size_t j = 0; j < s.working(); ++j) out.terms.push_back(s.term(j));
  out.scans = s.scans();
  return out;
}

std::vector<double> cv_path_mse(ConstBitRows masks, const double* y, const std::vector<Term>& terms,
                                const std::vector<double>& alphas, const std::int32_t* fold_of,
                                int folds, double relaxed_ridge, const PathOptions& opt) {
  regression::check_options(opt);
  regression::check_terms(terms, masks.n);
  if (folds < 2) throw std::invalid_argument("regression: cv needs at least 2 folds");
  std::vector<std::vector<std::uint32_t>> train(static_cast<std::size_t>(folds)),
      test(static_cast<std::size_t>(folds));
  for (std::size_t s = 0; s < masks.rows; ++s) {
    const int f = fold_of[s];
    if (f < 0 || f >= folds) throw std::invalid_argument("regression: fold ids must lie in [0, folds)");
    for (int g = 0; g < folds; ++g) {
      (g == f ? test : train)[static_cast<std::size_t>(g)].push_back(static_cast<std::uint32_t>(s));
    }
  }
  for (int g = 0; g < folds; ++g) {
    if (test[static_cast<std::size_t>(g)].empty() || train[static_cast<std::size_t>(g)].size() < 2) {
      throw std::invalid_argument("regression: every fold needs held-out rows and >= 2 training rows");
    }
  }
  const std::size_t A = alphas.size();
  std::vector<double> mse(static_cast<std::size_t>(folds) * A,
                          std::numeric_limits<double>::quiet_NaN());
  PathOptions inner = opt;
  inner.scan_pairs = false;
  inner.n_threads = 1;  // folds run in parallel instead
  parallel_for(0, static_cast<std::size_t>(folds), 1, opt.n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t f = lo; f < hi; ++f) {
      const auto& tr = train[f];
      const auto& te = test[f];
      BitColumns Xtr = transpose_rows(masks, tr.data(), tr.size(), 1);
      BitColumns Xte = transpose_rows(masks, te.data(), te.size(), 1);
      regression::Solver s(Xtr, regression::take_rows(y, tr.data(), tr.size()), terms, inner);
      std::vector<double> pred(te.size());
      std::vector<std::uint64_t> bits(Xte.words);
      std::vector<double> coef;
      for (std::size_t k = 0; k < A; ++k) {
        s.solve(alphas[k], nullptr);
        const double b0 = relaxed_ridge >= 0.0 ? s.relaxed(relaxed_ridge, &coef) : s.intercept();
        if (relaxed_ridge < 0.0) coef = s.beta();
        std::fill(pred.begin(), pred.end(), -b0);
        for (std::size_t j = 0; j < s.working(); ++j) {
          const double b = coef[j];
          if (b == 0.0) continue;
          const Term t = s.term(j);
          const std::uint64_t* A1 = Xte.col(static_cast<std::size_t>(t.a));
          if (t.is_pair()) {
            const std::uint64_t* B1 = Xte.col(static_cast<std::size_t>(t.b));
            for (std::size_t w = 0; w < Xte.words; ++w) bits[w] = A1[w] & B1[w];
            regression::subtract_on_bits(bits.data(), Xte.words, b, pred.data());
          } else {
            regression::subtract_on_bits(A1, Xte.words, b, pred.data());
          }
        }
        // pred holds -(prediction); the error is y + pred.
        double e2 = 0.0;
        for (std::size_t i = 0; i < te.size(); ++i) {
          const double e = y[te[i]] + pred[i];
          e2 += e * e;
        }
        mse[f * A + k] = e2 / static_cast<double>(te.size());
        if (opt.max_features && s.active() > opt.max_features) break;
      }
    }
  });
  return mse;
}

}  // namespace fastspex
