// Least-squares refit of a chosen support (regression.hpp), from popcount Gram entries.
#include <Eigen/Dense>
#include <stdexcept>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"
#include "fastspex/regression_kernels.hpp"

namespace fastspex {

namespace {

// The term columns as bit vectors over the samples (a pair is the AND of its two mains), with
// their popcounts and their sums of the centred targets yc.
struct TermColumns {
  std::size_t words = 0;
  std::vector<std::uint64_t> bits;  // k x words
  std::vector<double> cnt, xty;
  const std::uint64_t* col(std::size_t j) const { return bits.data() + j * words; }
};

TermColumns term_columns(ConstBitRows masks, const std::vector<Term>& terms,
                         const std::vector<double>& yc, int n_threads) {
  const std::size_t m = masks.rows, k = terms.size();
  BitColumns X = transpose_rows(masks, nullptr, 0, n_threads);
  TermColumns out;
  out.words = X.words;
  out.bits.resize(checked_mul(k, X.words, "refit"));
  out.cnt.resize(k);
  out.xty.resize(k);
  regression::ByteTable ytab;
  ytab.build(yc.data(), m, n_threads);
  parallel_for(0, k, 64, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t j = lo; j < hi; ++j) {
      const std::uint64_t* A = X.col(static_cast<std::size_t>(terms[j].a));
      std::uint64_t* dst = out.bits.data() + j * X.words;
      if (terms[j].is_pair()) {
        const std::uint64_t* B = X.col(static_cast<std::size_t>(terms[j].b));
        for (std::size_t w = 0; w < X.words; ++w) dst[w] = A[w] & B[w];
      } else {
        std::copy(A, A + X.words, dst);
      }
      out.cnt[j] = static_cast<double>(regression::popcount_words(dst, X.words));
      out.xty[j] = ytab.sum(dst, X.words);
    }
  });
  return out;
}

// The centred Gram matrix: |a AND b| - |a||b| / m for every pair of term columns.
Eigen::MatrixXd centred_gram(const TermColumns& X, double md, int n_threads) {
  const std::size_t k = X.cnt.size();
  Eigen::MatrixXd G(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k));
  parallel_for(0, k, 8, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t j = lo; j < hi; ++j) {
      for (std::size_t i = 0; i <= j; ++i) {
        const double g =
            static_cast<double>(regression::and_popcount(X.col(i), X.col(j), X.words)) -
            X.cnt[i] * X.cnt[j] / md;
        G(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = g;
        G(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)) = g;
      }
    }
  });
  return G;
}

// RSS from the residuals themselves: the expanded ||yc||² - 2βᵀXᵀy + βᵀGβ cancels to rounding
// noise (or 0) when the fit is nearly exact, and the t-statistics divide by it.
double residual_ss(const TermColumns& X, const std::vector<double>& yc,
                   const Eigen::VectorXd& beta, double md) {
  const std::size_t k = X.cnt.size();
  double shift = 0.0;
  for (std::size_t j = 0; j < k; ++j) shift += beta[static_cast<Eigen::Index>(j)] * X.cnt[j] / md;
  std::vector<double> r(yc);
  for (double& v : r) v += shift;
  for (std::size_t j = 0; j < k; ++j) {
    regression::subtract_on_bits(X.col(j), X.words, beta[static_cast<Eigen::Index>(j)], r.data());
  }
  double rss = 0.0;
  for (double v : r) rss += v * v;
  return rss;
}

}  // namespace

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
  std::vector<double> yc(m);
  for (std::size_t s = 0; s < m; ++s) yc[s] = y[s] - ybar;
  const TermColumns X = term_columns(masks, terms, yc, n_threads);
  Eigen::MatrixXd G = centred_gram(X, md, n_threads);
  const double lam = ridge * G.diagonal().mean();
  G.diagonal().array() += lam;
  Eigen::Map<const Eigen::VectorXd> b(X.xty.data(), static_cast<Eigen::Index>(k));
  // Pivoted QR tolerates a singular Gram (duplicate or constant columns) without blowing up.
  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(G);
  Eigen::VectorXd beta = qr.solve(b);
  if (!beta.allFinite()) throw std::runtime_error("refit: the least-squares solve failed");
  RefitResult res;
  res.intercept = ybar;
  res.coef.resize(k);
  res.rss = residual_ss(X, yc, beta, md);
  if (qr.rank() == static_cast<Eigen::Index>(k)) {
    Eigen::MatrixXd inv = qr.inverse();
    res.inv_diag.resize(k);
    for (std::size_t j = 0; j < k; ++j) res.inv_diag[j] = inv(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(j));
  }
  for (std::size_t j = 0; j < k; ++j) {
    res.coef[j] = beta[static_cast<Eigen::Index>(j)];
    res.intercept -= res.coef[j] * X.cnt[j] / md;
  }
  return res;
}

}  // namespace fastspex
