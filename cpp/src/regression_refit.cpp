// Least-squares refit of a chosen support (regression.hpp), from popcount Gram entries.
#include <Eigen/Dense>
#include <stdexcept>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"
#include "fastspex/regression_kernels.hpp"

namespace fastspex {

RefitResult refit(ConstBitRows masks, const double* y, const std::vector<Term>& terms,
                  double ridge, int n_threads) {
  if (!(ridge >= 0.0)) throw std::invalid_argument("refit: ridge must be >= 0");
  for (const Term& t : terms) {
    if (t.a < 0 || static_cast<std::size_t>(t.a) >= masks.n ||
        t.b >= static_cast<std::int64_t>(masks.n) || (t.b >= 0 && t.b <= t.a)) {
      throw std::invalid_argument("refit: terms must be mains (a, -1) or pairs a < b < n");
    }
  }
  const std::size_t m = masks.rows, k = terms.size();
  if (m == 0) throw std::invalid_argument("refit: no samples");
  const double md = static_cast<double>(m);
  double ybar = 0.0;
  for (std::size_t s = 0; s < m; ++s) ybar += y[s];
  ybar /= md;
  if (k == 0) {
    RefitResult res;
    res.intercept = ybar;
    for (std::size_t s = 0; s < m; ++s) res.rss += (y[s] - ybar) * (y[s] - ybar);
    return res;
  }
  require_bytes(checked_mul(checked_mul(k, k, "refit"), 8, "refit"), "refit");
  BitColumns X = transpose_rows(masks, nullptr, 0, n_threads);
  std::vector<std::uint64_t> bits(checked_mul(k, X.words, "refit"));
  std::vector<double> cnt(k), xty(k);
  std::vector<double> yc(m);
  for (std::size_t s = 0; s < m; ++s) yc[s] = y[s] - ybar;
  regression::ByteTable ytab;
  ytab.build(yc.data(), m, n_threads);
  parallel_for(0, k, 64, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t j = lo; j < hi; ++j) {
      const std::uint64_t* A = X.col(static_cast<std::size_t>(terms[j].a));
      std::uint64_t* dst = bits.data() + j * X.words;
      if (terms[j].is_pair()) {
        const std::uint64_t* B = X.col(static_cast<std::size_t>(terms[j].b));
        for (std::size_t w = 0; w < X.words; ++w) dst[w] = A[w] & B[w];
      } else {
        std::copy(A, A + X.words, dst);
      }
      cnt[j] = static_cast<double>(regression::popcount_words(dst, X.words));
      xty[j] = ytab.sum(dst, X.words);
    }
  });
  Eigen::MatrixXd G(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k));
  parallel_for(0, k, 8, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t j = lo; j < hi; ++j) {
      for (std::size_t i = 0; i <= j; ++i) {
        const double g = static_cast<double>(regression::and_popcount(
                             bits.data() + i * X.words, bits.data() + j * X.words, X.words)) -
                         cnt[i] * cnt[j] / md;
        G(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = g;
        G(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)) = g;
      }
    }
  });
  const double lam = ridge * G.diagonal().mean();
  G.diagonal().array() += lam;
  Eigen::Map<const Eigen::VectorXd> b(xty.data(), static_cast<Eigen::Index>(k));
  // Pivoted QR tolerates a singular Gram (duplicate or constant columns) without blowing up.
  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(G);
  Eigen::VectorXd beta = qr.solve(b);
  if (!beta.allFinite()) throw std::runtime_error("refit: the least-squares solve failed");
  RefitResult res;
  res.intercept = ybar;
  res.coef.resize(k);
  // RSS from the residuals themselves: the expanded ||yc||² - 2βᵀXᵀy + βᵀGβ cancels to
  // rounding noise (or 0) when the fit is nearly exact, and the t-statistics divide by it.
  {
    double shift = 0.0;
    for (std::size_t j = 0; j < k; ++j) shift += beta[static_cast<Eigen::Index>(j)] * cnt[j] / md;
    std::vector<double> r(yc);
    for (double& v : r) v += shift;
    for (std::size_t j = 0; j < k; ++j) {
      regression::subtract_on_bits(bits.data() + j * X.words, X.words,
                                   beta[static_cast<Eigen::Index>(j)], r.data());
    }
    for (double v : r) res.rss += v * v;
  }
  if (qr.rank() == static_cast<Eigen::Index>(k)) {
    Eigen::MatrixXd inv = qr.inverse();
    res.inv_diag.resize(k);
    for (std::size_t j = 0; j < k; ++j) res.inv_diag[j] = inv(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(j));
  }
  for (std::size_t j = 0; j < k; ++j) {
    res.coef[j] = beta[static_cast<Eigen::Index>(j)];
    res.intercept -= res.coef[j] * cnt[j] / md;
  }
  return res;
}

}  // namespace fastspex
