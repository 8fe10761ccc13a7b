// Bit-column kernels of the regression solvers (see regression_kernels.hpp).
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <mutex>
#include <tuple>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"
#include "fastspex/regression_kernels.hpp"

namespace fastspex {

BitColumns transpose_rows(ConstBitRows masks, const std::uint32_t* rows, std::size_t m_sel,
                          int n_threads) {
  BitColumns X;
  X.m = rows ? m_sel : masks.rows;
  X.n = masks.n;
  X.words = words_for(std::max<std::size_t>(X.m, 1));
  require_bytes(checked_mul(checked_mul(X.n, X.words, "regression"), 8, "regression"),
                "regression");
  X.bits.assign(X.n * X.words, 0);
  const std::size_t w_in = masks.words();
  // Each chunk owns one output word per column (64 samples), so chunks never share a word.
  parallel_for(0, X.words, 4, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t wd = lo; wd < hi; ++wd) {
      const std::size_t s_end = std::min(X.m, (wd + 1) * 64);
      for (std::size_t s = wd * 64; s < s_end; ++s) {
        const std::uint64_t* row = masks.row(rows ? rows[s] : s);
        const std::uint64_t bit = std::uint64_t{1} << (s & 63);
        for (std::size_t k = 0; k < w_in; ++k) {
          std::uint64_t w = row[k];
          while (w) {
            const std::size_t j = k * 64 + static_cast<std::size_t>(__builtin_ctzll(w));
            X.bits[j * X.words + wd] |= bit;
            w &= w - 1;
          }
        }
      }
    }
  });
  X.counts.resize(X.n);
  for (std::size_t j = 0; j < X.n; ++j) {
    X.counts[j] = static_cast<double>(regression::popcount_words(X.col(j), X.words));
  }
  return X;
}

namespace regression {
namespace {

// The build targets baseline x86-64, where __builtin_popcountll is a software routine; the
// hardware instruction is chosen at run time (every x86-64 CPU of the last decade has it).
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) std::uint64_t and_pop_hw(const std::uint64_t* a,
                                                           const std::uint64_t* b,
                                                           std::size_t words) {
  std::uint64_t c0 = 0, c1 = 0;
  std::size_t k = 0;
  for (; k + 1 < words; k += 2) {
    c0 += static_cast<std::uint64_t>(__builtin_popcountll(a[k] & b[k]));
    c1 += static_cast<std::uint64_t>(__builtin_popcountll(a[k + 1] & b[k + 1]));
  }
  if (k < words) c0 += static_cast<std::uint64_t>(__builtin_popcountll(a[k] & b[k]));
  return c0 + c1;
}
__attribute__((target("popcnt"))) std::uint64_t pop_hw(const std::uint64_t* a, std::size_t words) {
  std::uint64_t c = 0;
  for (std::size_t k = 0; k < words; ++k) c += static_cast<std::uint64_t>(__builtin_popcountll(a[k]));
  return c;
}
__attribute__((target("popcnt"))) std::uint64_t and3_pop_hw(const std::uint64_t* a,
                                                            const std::uint64_t* b,
                                                            const std::uint64_t* c,
                                                            std::size_t words) {
  std::uint64_t n = 0;
  for (std::size_t k = 0; k < words; ++k) n += static_cast<std::uint64_t>(__builtin_popcountll(a[k] & b[k] & c[k]));
  return n;
}
bool has_popcnt() {
  static const bool has = __builtin_cpu_supports("popcnt");
  return has;
}
#else
bool has_popcnt() { return false; }
#endif

}  // namespace

std::uint64_t and_popcount(const std::uint64_t* a, const std::uint64_t* b, std::size_t words) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_popcnt()) return and_pop_hw(a, b, words);
#endif
  std::uint64_t c = 0;
  for (std::size_t k = 0; k < words; ++k) c += static_cast<std::uint64_t>(__builtin_popcountll(a[k] & b[k]));
  return c;
}

std::uint64_t and3_popcount(const std::uint64_t* a, const std::uint64_t* b, const std::uint64_t* c,
                           std::size_t words) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_popcnt()) return and3_pop_hw(a, b, c, words);
#endif
  std::uint64_t n = 0;
  for (std::size_t k = 0; k < words; ++k) n += static_cast<std::uint64_t>(__builtin_popcountll(a[k] & b[k] & c[k]));
  return n;
}

std::uint64_t popcount_words(const std::uint64_t* a, std::size_t words) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_popcnt()) return pop_hw(a, words);
#endif
  std::uint64_t c = 0;
  for (std::size_t k = 0; k < words; ++k) c += static_cast<std::uint64_t>(__builtin_popcountll(a[k]));
  return c;
}

void ByteTable::build(const double* r, std::size_t m, int n_threads) {
  // Whole words of groups, so the last (partial) word of a column never reads past the table.
  const std::size_t groups = 8 * words_for(std::max<std::size_t>(m, 1));
  t_.assign(groups * 256, 0.0);
  parallel_for(0, groups, 256, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t g = lo; g < hi; ++g) {
      double v[8];
      for (std::size_t k = 0; k < 8; ++k) v[k] = 8 * g + k < m ? r[8 * g + k] : 0.0;
      double* t = t_.data() + g * 256;
      t[0] = 0.0;
      for (unsigned b = 1; b < 256; ++b) t[b] = t[b & (b - 1)] + v[__builtin_ctz(b)];
    }
  });
}

double ByteTable::sum(const std::uint64_t* bits, std::size_t words) const {
  double s0 = 0.0, s1 = 0.0;
  const double* t = t_.data();
  for (std::size_t k = 0; k < words; ++k, t += 8 * 256) {
    const std::uint64_t w = bits[k];
    if (!w) continue;
    s0 += t[w & 255] + t[256 + ((w >> 8) & 255)] + t[512 + ((w >> 16) & 255)] +
          t[768 + ((w >> 24) & 255)];
    s1 += t[1024 + ((w >> 32) & 255)] + t[1280 + ((w >> 40) & 255)] +
          t[1536 + ((w >> 48) & 255)] + t[1792 + (w >> 56)];
  }
  return s0 + s1;
}

double ByteTable::sum_and(const std::uint64_t* a, const std::uint64_t* b, std::size_t words) const {
  double s0 = 0.0, s1 = 0.0;
  const double* t = t_.data();
  for (std::size_t k = 0; k < words; ++k, t += 8 * 256) {
    const std::uint64_t w = a[k] & b[k];
    if (!w) continue;
    s0 += t[w & 255] + t[256 + ((w >> 8) & 255)] + t[512 + ((w >> 16) & 255)] +
          t[768 + ((w >> 24) & 255)];
    s1 += t[1024 + ((w >> 32) & 255)] + t[1280 + ((w >> 40) & 255)] +
          t[1536 + ((w >> 48) & 255)] + t[1792 + (w >> 56)];
  }
  return s0 + s1;
}

void subtract_on_bits(const std::uint64_t* bits, std::size_t words, double value, double* r) {
  for (std::size_t k = 0; k < words; ++k) {
    std::uint64_t w = bits[k];
    double* rk = r + 64 * k;
    while (w) {
      rk[__builtin_ctzll(w)] -= value;
      w &= w - 1;
    }
  }
}

PairScanner::PairScanner(const BitColumns& X, int n_threads) : X_(X), n_threads_(n_threads) {
  require_bytes(checked_mul(checked_mul(X.m, X.n, "pair scan"), sizeof(float), "pair scan"),
                "pair scan");
  Xf_.assign(X.m * X.n, 0.0f);
  parallel_for(0, X.n, 16, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t j = lo; j < hi; ++j) {
      const std::uint64_t* c = X.col(j);
      float* dst = Xf_.data() + j * X.m;
      for (std::size_t k = 0; k < X.words; ++k) {
        std::uint64_t w = c[k];
        while (w) {
          dst[64 * k + static_cast<std::size_t>(__builtin_ctzll(w))] = 1.0f;
          w &= w - 1;
        }
      }
    }
  });
}

namespace {
struct Scored {
  float score;  // |value|
  std::uint64_t key;
};
// Total order: larger score first, then smaller key (deterministic whatever the threads).
inline bool better(const Scored& x, const Scored& y) {
  return x.score > y.score || (x.score == y.score && x.key < y.key);
}
// Keeps the `keep` best of v; returns the largest score dropped (0 if none).
float prune(std::vector<Scored>& v, std::size_t keep) {
  if (v.size() <= keep) return 0.0f;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(keep), v.end(), better);
  float dropped = 0.0f;
  for (std::size_t t = keep; t < v.size(); ++t) dropped = std::max(dropped, v[t].score);
  v.resize(keep);
  return dropped;
}
}  // namespace

PairScan PairScanner::scan(const double* r, std::size_t keep) const {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;
  const std::size_t m = X_.m, n = X_.n;
  constexpr std::size_t kBlock = 64;
  Eigen::Map<const Mat> Xf(Xf_.data(), static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(n));
  Eigen::VectorXf rf(static_cast<Eigen::Index>(m));
  for (std::size_t s = 0; s < m; ++s) rf[static_cast<Eigen::Index>(s)] = static_cast<float>(r[s]);

  std::vector<Scored> global;
  float global_rest = 0.0f;
  std::mutex mu;
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(0, blocks, 1, n_threads_, [&](std::size_t blo, std::size_t bhi) {
    for (std::size_t bl = blo; bl < bhi; ++bl) {
      const std::size_t i0 = bl * kBlock;
      const std::size_t nb = std::min(kBlock, n - i0);
      const auto ei0 = static_cast<Eigen::Index>(i0);
      const auto enb = static_cast<Eigen::Index>(nb);
      // Rows i of the block weighted by r, times every column j >= i0: G(i, j) = Σ_s r_s x_si x_sj.
      Mat W = (Xf.middleCols(ei0, enb).array().colwise() * rf.array()).matrix().transpose();
      Mat G = W * Xf.rightCols(static_cast<Eigen::Index>(n - i0));
      std::vector<Scored> local;
      float floor = 0.0f;  // scores below it cannot enter the top `keep` of this block
      float rest = 0.0f;
      local.reserve(std::min<std::size_t>(2 * keep, nb * (n - i0)));
      for (std::size_t ii = 0; ii < nb; ++ii) {
        const std::size_t i = i0 + ii;
        for (std::size_t j = i + 1; j < n; ++j) {
          const float v = std::fabs(G(static_cast<Eigen::Index>(ii), static_cast<Eigen::Index>(j - i0)));
          if (v < floor) {
            rest = std::max(rest, v);
            continue;
          }
          local.push_back({v, (static_cast<std::uint64_t>(i) << 32) | j});
          if (local.size() >= 2 * keep) {
            rest = std::max(rest, prune(local, keep));
            floor = rest;
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      global_rest = std::max(global_rest, rest);
      global.insert(global.end(), local.begin(), local.end());
      if (global.size() >= 2 * keep) global_rest = std::max(global_rest, prune(global, keep));
    }
  });
  global_rest = std::max(global_rest, prune(global, keep));
  std::sort(global.begin(), global.end(), better);
  PairScan out;
  out.rest = global_rest;
  out.pairs.reserve(global.size());
  for (const Scored& s : global) {
    out.pairs.push_back({static_cast<std::int32_t>(s.key >> 32),
                         static_cast<std::int32_t>(s.key & 0xffffffffu)});
  }
  return out;
}

}  // namespace regression
}  // namespace fastspex
