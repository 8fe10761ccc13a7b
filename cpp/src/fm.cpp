// Factorization-machine proxy fitted by coordinate-wise alternating least squares (fm.hpp).
// For x in {0,1}^n the pair term is ½ Σ_f [(Σ_{i∈x} v_if)² - Σ_{i∈x} v_if²], so with the
// per-sample sums q_f(s) = Σ_i v_if x_si every coordinate update is exact and touches only the
// samples that keep component i (Rendle, "Factorization Machines with libFM", 2012).
#include "fastspex/fm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"
#include "fastspex/rng.hpp"

namespace fastspex {
namespace {

// Sample ids (within `rows`) keeping each component: a CSC index of the selected rows.
struct Csc {
  std::vector<std::size_t> ptr;
  std::vector<std::uint32_t> idx;
};

Csc csc_of(ConstBitRows masks, const std::vector<std::uint32_t>& rows) {
  Csc c;
  c.ptr.assign(masks.n + 1, 0);
  const std::size_t w = masks.words();
  for (std::uint32_t s : rows) {
    const std::uint64_t* r = masks.row(s);
    for (std::size_t k = 0; k < w; ++k) {
      for (std::uint64_t b = r[k]; b; b &= b - 1) ++c.ptr[k * 64 + static_cast<std::size_t>(__builtin_ctzll(b)) + 1];
    }
  }
  for (std::size_t j = 0; j < masks.n; ++j) c.ptr[j + 1] += c.ptr[j];
  require_bytes(checked_mul(c.ptr[masks.n], 4, "fm"), "fm");
  c.idx.resize(c.ptr[masks.n]);
  std::vector<std::size_t> fill(c.ptr.begin(), c.ptr.end() - 1);
  for (std::size_t t = 0; t < rows.size(); ++t) {
    const std::uint64_t* r = masks.row(rows[t]);
    for (std::size_t k = 0; k < w; ++k) {
      for (std::uint64_t b = r[k]; b; b &= b - 1) {
        c.idx[fill[k * 64 + static_cast<std::size_t>(__builtin_ctzll(b))]++] = static_cast<std::uint32_t>(t);
      }
    }
  }
  return c;
}

double predict_row(const std::uint64_t* row, std::size_t words, double w0, const double* w,
                   const double* V, std::size_t rank, double* q) {
  double out = w0, sq = 0.0;
  std::fill(q, q + rank, 0.0);
  for (std::size_t k = 0; k < words; ++k) {
    for (std::uint64_t b = row[k]; b; b &= b - 1) {
      const std::size_t i = k * 64 + static_cast<std::size_t>(__builtin_ctzll(b));
      out += w[i];
      const double* v = V + i * rank;
      for (std::size_t f = 0; f < rank; ++f) {
        q[f] += v[f];
        sq += v[f] * v[f];
      }
    }
  }
  double qq = 0.0;
  for (std::size_t f = 0; f < rank; ++f) qq += q[f] * q[f];
  return out + 0.5 * (qq - sq);
}

double mse_on(ConstBitRows masks, const std::vector<std::uint32_t>& rows, const double* y,
              double w0, const std::vector<double>& w, const std::vector<double>& V,
              std::size_t rank, int n_threads) {
  const std::size_t chunks = (rows.size() + 255) / 256;
  std::vector<double> part(chunks, 0.0);
  parallel_for(0, rows.size(), 256, n_threads, [&](std::size_t lo, std::size_t hi) {
    std::vector<double> q(rank);
    double s2 = 0.0;
    for (std::size_t t = lo; t < hi; ++t) {
      const double e = y[rows[t]] - predict_row(masks.row(rows[t]), masks.words(), w0, w.data(),
                                                V.data(), rank, q.data());
      s2 += e * e;
    }
    part[lo / 256] = s2;
  });
  double s = 0.0;
  for (double v : part) s += v;
  return s / static_cast<double>(rows.size());
}

void check_options(const FmOptions& opt) {
  if (opt.rank == 0) throw std::invalid_argument("fm: rank must be >= 1");
  if (!(opt.l2_w >= 0.0 && opt.l2_v >= 0.0)) throw std::invalid_argument("fm: l2 penalties must be >= 0");
  if (opt.max_epochs < 1) throw std::invalid_argument("fm: max_epochs must be >= 1");
}

// Starting embeddings: Gaussians of standard deviation init_std, by Box-Muller (two normals
// per pair of uniforms).
void init_embeddings(std::vector<double>& V, const FmOptions& opt) {
  Xoshiro256 rng(opt.seed, 0x464d);
  for (std::size_t t = 0; t < V.size(); t += 2) {
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
    const double rad = std::sqrt(-2.0 * std::log(u1)) * opt.init_std;
    V[t] = rad * std::cos(6.283185307179586 * u2);
    if (t + 1 < V.size()) V[t + 1] = rad * std::sin(6.283185307179586 * u2);
  }
}

// The fitted parameters and the training rows' residuals e and factor sums q (column f
// contiguous: q[f * m + t]), kept consistent by every coordinate update.
struct FmState {
  double w0 = 0.0;
  std::vector<double> w, V, e, q;
};

void compute_residuals(ConstBitRows masks, const double* y, const std::vector<std::uint32_t>& train,
                       std::size_t r, FmState& st) {
  const std::size_t m = train.size();
  st.e.resize(m);
  st.q.resize(m * r);
  std::vector<double> qs(r);
  for (std::size_t t = 0; t < m; ++t) {
    st.e[t] = y[train[t]] - predict_row(masks.row(train[t]), masks.words(), st.w0, st.w.data(),
                                        st.V.data(), r, qs.data());
    for (std::size_t f = 0; f < r; ++f) st.q[f * m + t] = qs[f];
  }
}

// One exact least-squares step for w0, then for each w_i (penalty lw = m * l2_w).
void update_linear(const Csc& X, double lw, FmState& st) {
  const double md = static_cast<double>(st.e.size());
  double mean_e = 0.0;
  for (double v : st.e) mean_e += v;
  mean_e /= md;
  st.w0 += mean_e;
  for (double& v : st.e) v -= mean_e;
  for (std::size_t i = 0; i + 1 < X.ptr.size(); ++i) {
    const std::uint32_t* S = X.idx.data() + X.ptr[i];
    const std::size_t c = X.ptr[i + 1] - X.ptr[i];
    if (c == 0) continue;
    double se = 0.0;
    for (std::size_t t = 0; t < c; ++t) se += st.e[S[t]];
    const double wn = (se + static_cast<double>(c) * st.w[i]) / (static_cast<double>(c) + lw);
    const double d = wn - st.w[i];
    st.w[i] = wn;
    for (std::size_t t = 0; t < c; ++t) st.e[S[t]] -= d;
  }
}

// One exact least-squares step for every v_if, factor by factor (penalty lv = m * l2_v).
void update_factors(const Csc& X, double lv, std::size_t r, FmState& st) {
  const std::size_t m = st.e.size(), n = X.ptr.size() - 1;
  for (std::size_t f = 0; f < r; ++f) {
    double* qf = st.q.data() + f * m;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t* S = X.idx.data() + X.ptr[i];
      const std::size_t c = X.ptr[i + 1] - X.ptr[i];
      if (c == 0) continue;
      double& v = st.V[i * r + f];
      double num = 0.0, den = lv;
      for (std::size_t t = 0; t < c; ++t) {
        const double h = qf[S[t]] - v;
        num += (st.e[S[t]] + v * h) * h;
        den += h * h;
      }
      const double vn = den > 0.0 ? num / den : 0.0;
      const double d = vn - v;
      if (d == 0.0) continue;
      v = vn;
      for (std::size_t t = 0; t < c; ++t) {
        const std::uint32_t s = S[t];
        st.e[s] -= d * (qf[s] - (vn - d));  // h was computed with the old v
        qf[s] += d;
      }
    }
  }
}

}  // namespace

void fm_predict(ConstBitRows masks, double w0, const double* w, const double* V, std::size_t rank,
                double* out, int n_threads) {
  parallel_for(0, masks.rows, 256, n_threads, [&](std::size_t lo, std::size_t hi) {
    std::vector<double> q(rank);
    for (std::size_t s = lo; s < hi; ++s) {
      out[s] = predict_row(masks.row(s), masks.words(), w0, w, V, rank, q.data());
    }
  });
}

FmResult fm_fit(ConstBitRows masks, const double* y, const std::uint8_t* is_val,
                const FmOptions& opt) {
  check_options(opt);
  const std::size_t n = masks.n, r = opt.rank;
  std::vector<std::uint32_t> train, val;
  for (std::size_t s = 0; s < masks.rows; ++s) {
    (is_val && is_val[s] ? val : train).push_back(static_cast<std::uint32_t>(s));
  }
  if (train.size() < 2) throw std::invalid_argument("fm: need at least 2 training rows");
  const std::size_t m = train.size();
  const double md = static_cast<double>(m);
  require_bytes(checked_mul(checked_mul(m, r, "fm"), 8, "fm"), "fm");
  const Csc X = csc_of(masks, train);

  FmState st;
  st.w.assign(n, 0.0);
  st.V.assign(checked_mul(n, r, "fm"), 0.0);
  init_embeddings(st.V, opt);
  for (std::uint32_t s : train) st.w0 += y[s];
  st.w0 /= md;
  compute_residuals(masks, y, train, r, st);
  const double lw = md * opt.l2_w, lv = md * opt.l2_v;
  auto val_mse = [&] { return mse_on(masks, val, y, st.w0, st.w, st.V, r, opt.n_threads); };

  // The starting point (mean, no main effects, small random embeddings) competes too, so an
  // over-parameterised fit never returns something worse on held-out rows than the mean.
  double best = val.empty() ? std::numeric_limits<double>::infinity() : val_mse();
  FmResult res;
  res.w0 = st.w0;
  res.w = st.w;
  res.V = st.V;
  res.best_epoch = -1;
  int stale = 0;
  for (int epoch = 0; epoch < opt.max_epochs; ++epoch) {
    update_linear(X, lw, st);
    update_factors(X, lv, r, st);
    double tl = 0.0;
    for (double v : st.e) tl += v * v;
    tl /= md;
    res.train_loss.push_back(tl);
    const double score = val.empty() ? tl : val_mse();
    if (!val.empty()) res.val_loss.push_back(score);
    if (!std::isfinite(score)) throw std::runtime_error("fm: the fit diverged (non-finite loss)");
    if (score < best * (1.0 - opt.tol)) {  // keep the best epoch's parameters
      best = score;
      stale = 0;
      res.w0 = st.w0;
      res.w = st.w;
      res.V = st.V;
      res.best_epoch = epoch;
    } else if (++stale >= opt.patience) {
      break;
    }
  }
  return res;
}

}  // namespace fastspex
