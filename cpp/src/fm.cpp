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
  const std::size_t n = masks.n, r = opt.rank;
  if (r == 0) throw std::invalid_argument("fm: rank must be >= 1");
  if (!(opt.l2_w >= 0.0 && opt.l2_v >= 0.0)) throw std::invalid_argument("fm: l2 penalties must be >= 0");
  if (opt.max_epochs < 1) throw std::invalid_argument("fm: max_epochs must be >= 1");
  std::vector<std::uint32_t> train, val;
  for (std::size_t s = 0; s < masks.rows; ++s) {
    (is_val && is_val[s] ? val : train).push_back(static_cast<std::uint32_t>(s));
  }
  if (train.size() < 2) throw std::invalid_argument("fm: need at least 2 training rows");
  const std::size_t m = train.size();
  const double md = static_cast<double>(m);
  require_bytes(checked_mul(checked_mul(m, r, "fm"), 8, "fm"), "fm");
  const Csc X = csc_of(masks, train);

  FmResult res;
  res.w.assign(n, 0.0);
  res.V.assign(checked_mul(n, r, "fm"), 0.0);
  Xoshiro256 rng(opt.seed, 0x464d);
  for (std::size_t t = 0; t < res.V.size(); t += 2) {
    // Box-Muller: two normals per pair of uniforms.
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
    const double rad = std::sqrt(-2.0 * std::log(u1)) * opt.init_std;
    res.V[t] = rad * std::cos(6.283185307179586 * u2);
    if (t + 1 < res.V.size()) res.V[t + 1] = rad * std::sin(6.283185307179586 * u2);
  }
  for (std::uint32_t s : train) res.w0 += y[s];
  res.w0 /= md;

  // Residuals e and factor sums q (column f contiguous) on the training rows.
  std::vector<double> e(m), q(m * r);
  {
    std::vector<double> qs(r);
    for (std::size_t t = 0; t < m; ++t) {
      e[t] = y[train[t]] - predict_row(masks.row(train[t]), masks.words(), res.w0, res.w.data(),
                                       res.V.data(), r, qs.data());
      for (std::size_t f = 0; f < r; ++f) q[f * m + t] = qs[f];
    }
  }
  const double lw = md * opt.l2_w, lv = md * opt.l2_v;
  // The starting point (mean, no main effects, small random embeddings) competes too, so an
  // over-parameterised fit never returns something worse on held-out rows than the mean.
  double best = val.empty() ? std::numeric_limits<double>::infinity()
                            : mse_on(masks, val, y, res.w0, res.w, res.V, r, opt.n_threads);
  FmResult keep;
  keep.w0 = res.w0;
  keep.w = res.w;
  keep.V = res.V;
  keep.best_epoch = -1;
  int stale = 0;
  for (int epoch = 0; epoch < opt.max_epochs; ++epoch) {
    double mean_e = 0.0;
    for (double v : e) mean_e += v;
    mean_e /= md;
    res.w0 += mean_e;
    for (double& v : e) v -= mean_e;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t* S = X.idx.data() + X.ptr[i];
      const std::size_t c = X.ptr[i + 1] - X.ptr[i];
      if (c == 0) continue;
      double se = 0.0;
      for (std::size_t t = 0; t < c; ++t) se += e[S[t]];
      const double wn = (se + static_cast<double>(c) * res.w[i]) / (static_cast<double>(c) + lw);
      const double d = wn - res.w[i];
      res.w[i] = wn;
      for (std::size_t t = 0; t < c; ++t) e[S[t]] -= d;
    }
    for (std::size_t f = 0; f < r; ++f) {
      double* qf = q.data() + f * m;
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t* S = X.idx.data() + X.ptr[i];
        const std::size_t c = X.ptr[i + 1] - X.ptr[i];
        if (c == 0) continue;
        double& v = res.V[i * r + f];
        double num = 0.0, den = lv;
        for (std::size_t t = 0; t < c; ++t) {
          const double h = qf[S[t]] - v;
          num += (e[S[t]] + v * h) * h;
          den += h * h;
        }
        const double vn = den > 0.0 ? num / den : 0.0;
        const double d = vn - v;
        if (d == 0.0) continue;
        v = vn;
        for (std::size_t t = 0; t < c; ++t) {
          const std::uint32_t s = S[t];
          e[s] -= d * (qf[s] - (vn - d));  // h was computed with the old v
          qf[s] += d;
        }
      }
    }
    double tl = 0.0;
    for (double v : e) tl += v * v;
    tl /= md;
    res.train_loss.push_back(tl);
    const double score = val.empty() ? tl : mse_on(masks, val, y, res.w0, res.w, res.V, r, opt.n_threads);
    if (!val.empty()) res.val_loss.push_back(score);
    if (!std::isfinite(score)) throw std::runtime_error("fm: the fit diverged (non-finite loss)");
    if (score < best * (1.0 - opt.tol)) {
      best = score;
      stale = 0;
      keep.w0 = res.w0;
      keep.w = res.w;
      keep.V = res.V;
      keep.best_epoch = epoch;
    } else if (++stale >= opt.patience) {
      break;
    }
  }
  res.w0 = keep.w0;
  res.w = std::move(keep.w);
  res.V = std::move(keep.V);
  res.best_epoch = keep.best_epoch;
  return res;
}

}  // namespace fastspex
