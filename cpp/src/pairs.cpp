#include "fastspex/pairs.hpp"

#include <Eigen/Core>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"

namespace fastspex {
namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr std::size_t kTile = 256;  // 256 x 256 doubles = 512 KiB: one tile stays in L2

PairList to_list(const std::vector<ScoredPair>& best) {
  PairList out;
  out.i.reserve(best.size());
  out.j.reserve(best.size());
  out.score.reserve(best.size());
  for (const ScoredPair& p : best) {
    out.i.push_back(p.i);
    out.j.push_back(p.j);
    out.score.push_back(p.score);
  }
  return out;
}

void check_k(std::size_t n, std::size_t k) {
  if (n < 2) throw std::invalid_argument("pair scoring needs n >= 2 components");
  if (k == 0) throw std::invalid_argument("k must be >= 1");
  if (k > pair_count(n)) {
    throw std::invalid_argument("k = " + std::to_string(k) + " exceeds the " +
                                std::to_string(pair_count(n)) + " pairs of n = " +
                                std::to_string(n) + " components");
  }
  require_bytes(checked_mul(k, 4 * sizeof(ScoredPair), "top pairs"), "top pairs");
}

// Largest key any entry of a block can have (scale > 0 keeps the order of scores).
template <class Block>
double block_max_key(const Block& b, double scale, RankBy by) {
  switch (by) {
    case RankBy::Largest:
      return b.maxCoeff() * scale;
    case RankBy::Smallest:
      return -(b.minCoeff() * scale);
    case RankBy::Magnitude:
      return b.cwiseAbs().maxCoeff() * scale;
  }
  return std::numeric_limits<double>::infinity();
}

// AVX2/FMA tile kernel, chosen at run time when the CPU has it (the build targets baseline
// x86-64, where Eigen's GEMM uses SSE2 only). tile[ii * kTile + jj] = <Vi[ii], V[j0 + jj]> for
// ii < ni, jj < round_up(nj, 8); PT is V transposed (r x stride, zero padded), offset to j0.
// A 4 x 8 register block: per k, 2 loads of PT, 4 broadcasts of Vi, 8 FMAs.
#if defined(__x86_64__) && defined(__GNUC__)
#define FASTSPEX_HAVE_AVX2_KERNEL 1
// Also writes row_max[ii] = the largest rank key (before scaling) in tile row ii, padding
// columns (value 0) included, so rows that cannot enter the heap are skipped without a rescan.
__attribute__((target("avx2,fma"))) inline __m256d key_avx2(__m256d c, RankBy by) {
  switch (by) {
    case RankBy::Largest:
      return c;
    case RankBy::Smallest:
      return _mm256_sub_pd(_mm256_setzero_pd(), c);
    case RankBy::Magnitude:
      return _mm256_andnot_pd(_mm256_set1_pd(-0.0), c);
  }
  return c;
}

__attribute__((target("avx2,fma"))) double hmax_avx2(__m256d v) {
  alignas(32) double buf[4];
  _mm256_store_pd(buf, v);
  return std::max(std::max(buf[0], buf[1]), std::max(buf[2], buf[3]));
}

__attribute__((target("avx2,fma"))) void tile_avx2(const double* Vi, std::size_t ni,
                                                  const double* PT, std::size_t stride,
                                                  std::size_t nj, std::size_t r, RankBy by,
                                                  double* tile, double* row_max) {
  const std::size_t njp = (nj + 7) / 8 * 8;
  const __m256d lowest = _mm256_set1_pd(-std::numeric_limits<double>::infinity());
  std::size_t ii = 0;
  for (; ii + 4 <= ni; ii += 4) {
    const double* a = Vi + ii * r;
    __m256d m0 = lowest, m1 = lowest, m2 = lowest, m3 = lowest;
    for (std::size_t jj = 0; jj < njp; jj += 8) {
      __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
      __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
      __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
      __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
      for (std::size_t k = 0; k < r; ++k) {
        const double* b = PT + k * stride + jj;
        const __m256d b0 = _mm256_loadu_pd(b);
        const __m256d b1 = _mm256_loadu_pd(b + 4);
        __m256d x = _mm256_broadcast_sd(a + k);
        c00 = _mm256_fmadd_pd(x, b0, c00);
        c01 = _mm256_fmadd_pd(x, b1, c01);
        x = _mm256_broadcast_sd(a + r + k);
        c10 = _mm256_fmadd_pd(x, b0, c10);
        c11 = _mm256_fmadd_pd(x, b1, c11);
        x = _mm256_broadcast_sd(a + 2 * r + k);
        c20 = _mm256_fmadd_pd(x, b0, c20);
        c21 = _mm256_fmadd_pd(x, b1, c21);
        x = _mm256_broadcast_sd(a + 3 * r + k);
        c30 = _mm256_fmadd_pd(x, b0, c30);
        c31 = _mm256_fmadd_pd(x, b1, c31);
      }
      double* t = tile + ii * kTile + jj;
      _mm256_storeu_pd(t, c00);
      _mm256_storeu_pd(t + 4, c01);
      _mm256_storeu_pd(t + kTile, c10);
      _mm256_storeu_pd(t + kTile + 4, c11);
      _mm256_storeu_pd(t + 2 * kTile, c20);
      _mm256_storeu_pd(t + 2 * kTile + 4, c21);
      _mm256_storeu_pd(t + 3 * kTile, c30);
      _mm256_storeu_pd(t + 3 * kTile + 4, c31);
      m0 = _mm256_max_pd(m0, _mm256_max_pd(key_avx2(c00, by), key_avx2(c01, by)));
      m1 = _mm256_max_pd(m1, _mm256_max_pd(key_avx2(c10, by), key_avx2(c11, by)));
      m2 = _mm256_max_pd(m2, _mm256_max_pd(key_avx2(c20, by), key_avx2(c21, by)));
      m3 = _mm256_max_pd(m3, _mm256_max_pd(key_avx2(c30, by), key_avx2(c31, by)));
    }
    row_max[ii] = hmax_avx2(m0);
    row_max[ii + 1] = hmax_avx2(m1);
    row_max[ii + 2] = hmax_avx2(m2);
    row_max[ii + 3] = hmax_avx2(m3);
  }
  for (; ii < ni; ++ii) {
    const double* a = Vi + ii * r;
    __m256d m0 = lowest;
    for (std::size_t jj = 0; jj < njp; jj += 8) {
      __m256d c0 = _mm256_setzero_pd(), c1 = _mm256_setzero_pd();
      for (std::size_t k = 0; k < r; ++k) {
        const double* b = PT + k * stride + jj;
        const __m256d x = _mm256_broadcast_sd(a + k);
        c0 = _mm256_fmadd_pd(x, _mm256_loadu_pd(b), c0);
        c1 = _mm256_fmadd_pd(x, _mm256_loadu_pd(b + 4), c1);
      }
      _mm256_storeu_pd(tile + ii * kTile + jj, c0);
      _mm256_storeu_pd(tile + ii * kTile + jj + 4, c1);
      m0 = _mm256_max_pd(m0, _mm256_max_pd(key_avx2(c0, by), key_avx2(c1, by)));
    }
    row_max[ii] = hmax_avx2(m0);
  }
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

// Single-precision tile kernel: R rows of V (row-major floats, a) against 16 columns of PT at a
// time; R x 2 accumulators (R = 6: 12 of the 16 AVX registers) hide the FMA latency.
__attribute__((target("avx2,fma"))) inline __m256 key_avx2_f(__m256 c, RankBy by) {
  switch (by) {
    case RankBy::Largest:
      return c;
    case RankBy::Smallest:
      return _mm256_sub_ps(_mm256_setzero_ps(), c);
    case RankBy::Magnitude:
      return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), c);
  }
  return c;
}

__attribute__((target("avx2,fma"))) float hmax_avx2_f(__m256 v) {
  alignas(32) float buf[8];
  _mm256_store_ps(buf, v);
  return *std::max_element(buf, buf + 8);
}

template <int R>
__attribute__((target("avx2,fma"))) void rows_f32(const float* a, std::size_t r, const float* PT,
                                                 std::size_t stride, std::size_t njp, RankBy by,
                                                 float* tile, float* row_max) {
  __m256 m[R];
  for (int q = 0; q < R; ++q) m[q] = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::size_t jj = 0; jj < njp; jj += 16) {
    __m256 c0[R], c1[R];
    for (int q = 0; q < R; ++q) c0[q] = c1[q] = _mm256_setzero_ps();
    for (std::size_t k = 0; k < r; ++k) {
      const float* b = PT + k * stride + jj;
      const __m256 b0 = _mm256_loadu_ps(b);
      const __m256 b1 = _mm256_loadu_ps(b + 8);
      for (int q = 0; q < R; ++q) {
        const __m256 x = _mm256_broadcast_ss(a + q * r + k);
        c0[q] = _mm256_fmadd_ps(x, b0, c0[q]);
        c1[q] = _mm256_fmadd_ps(x, b1, c1[q]);
      }
    }
    for (int q = 0; q < R; ++q) {
      float* t = tile + q * kTile + jj;
      _mm256_storeu_ps(t, c0[q]);
      _mm256_storeu_ps(t + 8, c1[q]);
      m[q] = _mm256_max_ps(m[q], _mm256_max_ps(key_avx2_f(c0[q], by), key_avx2_f(c1[q], by)));
    }
  }
  for (int q = 0; q < R; ++q) row_max[q] = hmax_avx2_f(m[q]);
}

// tile[ii * kTile + jj] = <Vi[ii], V[j0 + jj]> in float for ii < ni, jj < round_up(nj, 16).
void tile_f32(const float* Vi, std::size_t ni, const float* PT, std::size_t stride,
              std::size_t nj, std::size_t r, RankBy by, float* tile, float* row_max) {
  const std::size_t njp = (nj + 15) / 16 * 16;
  std::size_t ii = 0;
  for (; ii + 6 <= ni; ii += 6) rows_f32<6>(Vi + ii * r, r, PT, stride, njp, by, tile + ii * kTile, row_max + ii);
  for (; ii + 4 <= ni; ii += 4) rows_f32<4>(Vi + ii * r, r, PT, stride, njp, by, tile + ii * kTile, row_max + ii);
  for (; ii < ni; ++ii) rows_f32<1>(Vi + ii * r, r, PT, stride, njp, by, tile + ii * kTile, row_max + ii);
}

__attribute__((target("avx2,fma"))) double fma_loop(std::size_t iterations) {
  __m256 acc[10];
  for (int q = 0; q < 10; ++q) acc[q] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(q));
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  for (std::size_t it = 0; it < iterations; ++it) {
    for (int q = 0; q < 10; ++q) acc[q] = _mm256_fmadd_ps(acc[q], a, b);
  }
  __m256 sum = acc[0];
  for (int q = 1; q < 10; ++q) sum = _mm256_add_ps(sum, acc[q]);
  return static_cast<double>(hmax_avx2_f(sum));  // keeps the loop from being optimised away
}
#endif

// Open-addressing map from a pair key (i << 32 | j) to its accumulated value.
class PairMap {
 public:
  explicit PairMap(std::size_t expected) {
    std::size_t cap = 16;
    while (cap < 2 * expected) cap <<= 1;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, 0.0);
  }
  void add(std::uint64_t key, double v) {
    std::size_t pos = slot(key);
    if (keys_[pos] == kEmpty) {
      keys_[pos] = key;
      values_[pos] = v;
      if (2 * ++size_ > keys_.size()) grow();
    } else {
      values_[pos] += v;
    }
  }
  // 0.0 if absent.
  double get(std::uint64_t key) const {
    const std::size_t pos = slot(key);
    return keys_[pos] == kEmpty ? 0.0 : values_[pos];
  }
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t p = 0; p < keys_.size(); ++p) {
      if (keys_[p] != kEmpty) f(keys_[p], values_[p]);
    }
  }

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::uint64_t mix(std::uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  }
  std::size_t slot(std::uint64_t key) const {
    const std::size_t mask = keys_.size() - 1;
    std::size_t pos = static_cast<std::size_t>(mix(key)) & mask;
    while (keys_[pos] != kEmpty && keys_[pos] != key) pos = (pos + 1) & mask;
    return pos;
  }
  void grow() {
    std::vector<std::uint64_t> old_keys = std::move(keys_);
    std::vector<double> old_values = std::move(values_);
    require_bytes(checked_mul(old_keys.size(), 2 * 16, "pair map"), "pair map");
    keys_.assign(old_keys.size() * 2, kEmpty);
    values_.assign(old_keys.size() * 2, 0.0);
    for (std::size_t p = 0; p < old_keys.size(); ++p) {
      if (old_keys[p] == kEmpty) continue;
      const std::size_t pos = slot(old_keys[p]);
      keys_[pos] = old_keys[p];
      values_[pos] = old_values[p];
    }
  }
  std::vector<std::uint64_t> keys_;
  std::vector<double> values_;
  std::size_t size_ = 0;
};

// V transposed and zero padded to a multiple of 8 columns (PT, row stride `stride`), for the
// AVX2 kernel; returns whether that kernel is used (allowed, compiled in, and the CPU has it).
bool avx2_layout(const double* V, std::size_t n, std::size_t r, bool allow_simd,
                 std::vector<double>& PT, std::size_t& stride) {
  bool use_avx2 = false;
#ifdef FASTSPEX_HAVE_AVX2_KERNEL
  use_avx2 = allow_simd && cpu_has_avx2_fma();
  if (use_avx2) {
    stride = (n + 7) / 8 * 8;
    require_bytes(checked_mul(checked_mul(stride, r, "fm_top_pairs"), sizeof(double),
                              "fm_top_pairs"), "fm_top_pairs");
    PT.assign(stride * r, 0.0);
    for (std::size_t a = 0; a < n; ++a) {
      for (std::size_t c = 0; c < r; ++c) PT[c * stride + a] = V[a * r + c];
    }
  }
#else
  (void)V, (void)n, (void)r, (void)allow_simd, (void)PT, (void)stride;
#endif
  return use_avx2;
}

// Pushes the pairs of one computed (ni x nj) tile of inner products (rows i0.., columns j0..;
// only j > i on a diagonal tile) whose key reaches `thr` into `local`, skipping the tile or a
// row at once when its bound is below thr (row_max from the AVX2 kernel, else the entries).
void collect_tile(const RowMat& tile, const std::vector<double>& row_max, std::size_t ni,
                  std::size_t nj, std::size_t i0, std::size_t j0, bool diagonal, bool use_avx2,
                  double scale, RankBy by, double thr, TopK& local) {
  const auto T = tile.topLeftCorner(static_cast<Eigen::Index>(ni), static_cast<Eigen::Index>(nj));
  if (use_avx2) {
    const double tile_max = *std::max_element(row_max.begin(), row_max.begin() + static_cast<std::ptrdiff_t>(ni));
    if (tile_max * scale < thr) return;
  } else if (block_max_key(T, scale, by) < thr) {
    return;
  }
  for (std::size_t ii = 0; ii < ni; ++ii) {
    const std::size_t jstart = diagonal ? ii + 1 : 0;
    if (jstart >= nj) continue;
    if (use_avx2 && row_max[ii] * scale < thr) continue;
    auto row = T.row(static_cast<Eigen::Index>(ii))
                   .segment(static_cast<Eigen::Index>(jstart),
                            static_cast<Eigen::Index>(nj - jstart));
    if (!use_avx2 && block_max_key(row, scale, by) < thr) continue;
    const double* p = tile.data() + ii * kTile;
    for (std::size_t jj = jstart; jj < nj; ++jj) {
      const double score = p[jj] * scale;
      const double key = rank_key(score, by);
      if (key < thr) continue;
      local.push(ScoredPair{key, score, static_cast<std::int32_t>(i0 + ii),
                            static_cast<std::int32_t>(j0 + jj)});
      thr = std::max(local.floor(), thr);
    }
  }
}

#ifdef FASTSPEX_HAVE_AVX2_KERNEL
double dot(const double* a, const double* b, std::size_t r) {
  double s = 0.0;
  for (std::size_t c = 0; c < r; ++c) s += a[c] * b[c];
  return s;
}

// The float tile's candidates: a pair whose float key plus its error bound could reach thr is
// re-scored in double and pushed with its double score. Rows are skipped on their float row
// maximum plus the largest bound in the row.
void collect_tile_f32(const float* tile, const float* row_max, std::size_t ni, std::size_t nj,
                      std::size_t i0, std::size_t j0, bool diagonal, const double* V,
                      std::size_t r, const double* norms, double err, double scale, RankBy by,
                      double thr, TopK& local) {
  const double col_norm = *std::max_element(norms + j0, norms + j0 + nj);
  for (std::size_t ii = 0; ii < ni; ++ii) {
    const std::size_t jstart = diagonal ? ii + 1 : 0;
    if (jstart >= nj) continue;
    const double bound_i = err * norms[i0 + ii];
    if ((static_cast<double>(row_max[ii]) + bound_i * col_norm) * scale < thr) continue;
    // Entries whose float key is below this cannot reach thr whatever their column's norm.
    const float cut = static_cast<float>(thr / scale - bound_i * col_norm);
    const float* p = tile + ii * kTile;
    const double* vi = V + (i0 + ii) * r;
    for (std::size_t jj = jstart; jj < nj; ++jj) {
      const float kf = by == RankBy::Largest ? p[jj] : by == RankBy::Smallest ? -p[jj] : std::abs(p[jj]);
      if (kf < cut) continue;
      if ((static_cast<double>(kf) + bound_i * norms[j0 + jj]) * scale < thr) continue;
      const double score = dot(vi, V + (j0 + jj) * r, r) * scale;
      const double key = rank_key(score, by);
      if (key < thr) continue;
      local.push(ScoredPair{key, score, static_cast<std::int32_t>(i0 + ii),
                            static_cast<std::int32_t>(j0 + jj)});
      thr = std::max(local.floor(), thr);
    }
  }
}

#endif

std::uint64_t pair_key(std::int32_t i, std::int32_t j) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(i)) << 32) |
         static_cast<std::uint32_t>(j);
}

}  // namespace

namespace {

#ifdef FASTSPEX_HAVE_AVX2_KERNEL
// Whether float tiles keep the error bound valid: no overflow, no underflow of a product.
bool float_safe(const double* V, std::size_t count) {
  for (std::size_t a = 0; a < count; ++a) {
    const double v = std::abs(V[a]);
    if (v != 0.0 && (v < 1e-15 || v > 1e15)) return false;
  }
  return true;
}

PairList fm_top_pairs_f32(const double* V, std::size_t n, std::size_t r, double scale,
                          std::size_t k, RankBy by, int n_threads) {
  const std::size_t blocks = (n + kTile - 1) / kTile;
  const std::size_t stride = (n + 15) / 16 * 16;
  require_bytes(checked_mul(checked_mul(stride, 2 * r + 2, "fm_top_pairs"), sizeof(float),
                            "fm_top_pairs"), "fm_top_pairs");
  std::vector<float> Vf(n * r);
  std::vector<float> PT(stride * r, 0.0f);
  std::vector<double> norms(n);
  for (std::size_t a = 0; a < n; ++a) {
    double sq = 0.0;
    for (std::size_t c = 0; c < r; ++c) {
      const double v = V[a * r + c];
      Vf[a * r + c] = static_cast<float>(v);
      PT[c * stride + a] = static_cast<float>(v);
      sq += v * v;
    }
    norms[a] = std::sqrt(sq) * (1.0 + 1e-12);  // an upper bound despite the rounding of sqrt
  }
  // |float dot - double dot| <= (gamma_r + conversion of both factors) sum |a_c b_c|
  //                           <= (r + 3) u (1 + 0.01) |a| |b| for r u < 0.01, u = 2^-24.
  const double err = (static_cast<double>(r) + 3.0) * std::ldexp(1.0, -24) * 1.01;
  const auto threads = std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(n_threads)), blocks);
  require_bytes(checked_mul(checked_mul(k, threads + 1, "fm_top_pairs"), sizeof(ScoredPair),
                            "fm_top_pairs"), "fm_top_pairs");
  TopK global(k);
  std::mutex global_mutex;
  std::atomic<double> global_floor{-std::numeric_limits<double>::infinity()};
  parallel_for(0, blocks, 1, n_threads, [&](std::size_t b0, std::size_t b1) {
    std::vector<float> tile(kTile * kTile);
    std::vector<float> row_max(kTile);
    for (std::size_t bi = b0; bi < b1; ++bi) {
      TopK local(k);
      const std::size_t i0 = bi * kTile;
      const std::size_t ni = std::min(kTile, n - i0);
      for (std::size_t bj = bi; bj < blocks; ++bj) {
        const std::size_t j0 = bj * kTile;
        const std::size_t nj = std::min(kTile, n - j0);
        tile_f32(Vf.data() + i0 * r, ni, PT.data() + j0, stride, nj, r, by, tile.data(),
                 row_max.data());
        const double thr = std::max(local.floor(), global_floor.load(std::memory_order_relaxed));
        collect_tile_f32(tile.data(), row_max.data(), ni, nj, i0, j0, bj == bi, V, r,
                         norms.data(), err, scale, by, thr, local);
      }
      std::lock_guard<std::mutex> lock(global_mutex);
      global.merge(local);
      global_floor.store(global.floor(), std::memory_order_relaxed);
    }
  });
  return to_list(global.sorted());
}
#endif

}  // namespace

double measured_fma_rate(double seconds, int n_threads) {
  if (!(seconds > 0.0 && seconds <= 2.0)) {
    throw std::invalid_argument("seconds must lie in (0, 2], got " + std::to_string(seconds));
  }
#ifdef FASTSPEX_HAVE_AVX2_KERNEL
  if (!cpu_has_avx2_fma()) return 0.0;
  const auto threads = static_cast<std::size_t>(resolve_threads(n_threads));
  std::size_t iterations = 1 << 20;
  for (;;) {
    std::atomic<double> sink{0.0};
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(0, threads, 1, static_cast<int>(threads), [&](std::size_t, std::size_t) {
      sink.store(fma_loop(iterations), std::memory_order_relaxed);
    });
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt >= seconds || iterations > (std::size_t{1} << 34)) {
      return static_cast<double>(iterations) * 10.0 * 8.0 * static_cast<double>(threads) / dt;
    }
    iterations *= 2;
  }
#else
  (void)seconds, (void)n_threads;
  return 0.0;
#endif
}

PairList fm_top_pairs(const double* V, std::size_t n, std::size_t r, double scale, std::size_t k,
                      RankBy by, int n_threads, bool allow_simd, bool mixed) {
  check_k(n, k);
  if (r == 0) throw std::invalid_argument("the embeddings have rank r = 0");
  if (!(scale > 0.0)) throw std::invalid_argument("scale must be positive");
  if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::invalid_argument("n must be below 2^31");
  }
#ifdef FASTSPEX_HAVE_AVX2_KERNEL
  if (mixed && allow_simd && cpu_has_avx2_fma() && float_safe(V, n * r)) {
    return fm_top_pairs_f32(V, n, r, scale, k, by, n_threads);
  }
#else
  (void)mixed;
#endif
  const std::size_t blocks = (n + kTile - 1) / kTile;
  std::vector<double> PT;
  std::size_t stride = 0;
  const bool use_avx2 = avx2_layout(V, n, r, allow_simd, PT, stride);
  // Every thread keeps its own top-k heap next to the global one: check that memory first.
  const auto threads = std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(n_threads)), blocks);
  require_bytes(checked_mul(checked_mul(k, threads + 1, "fm_top_pairs"), sizeof(ScoredPair),
                            "fm_top_pairs"), "fm_top_pairs");
  TopK global(k);
  std::mutex global_mutex;
  std::atomic<double> global_floor{-std::numeric_limits<double>::infinity()};

  // One work item = one strip of kTile rows against every column block to its right.
  parallel_for(0, blocks, 1, n_threads, [&](std::size_t b0, std::size_t b1) {
    RowMat tile(kTile, kTile);
    std::vector<double> row_max(kTile, std::numeric_limits<double>::infinity());
    for (std::size_t bi = b0; bi < b1; ++bi) {
      TopK local(k);
      const std::size_t i0 = bi * kTile;
      const std::size_t ni = std::min(kTile, n - i0);
      Eigen::Map<const RowMat> Vi(V + i0 * r, static_cast<Eigen::Index>(ni),
                                  static_cast<Eigen::Index>(r));
      for (std::size_t bj = bi; bj < blocks; ++bj) {
        const std::size_t j0 = bj * kTile;
        const std::size_t nj = std::min(kTile, n - j0);
        Eigen::Map<const RowMat> Vj(V + j0 * r, static_cast<Eigen::Index>(nj),
                                    static_cast<Eigen::Index>(r));
        auto T = tile.topLeftCorner(static_cast<Eigen::Index>(ni), static_cast<Eigen::Index>(nj));
#ifdef FASTSPEX_HAVE_AVX2_KERNEL
        if (use_avx2) {
          tile_avx2(V + i0 * r, ni, PT.data() + j0, stride, nj, r, by, tile.data(),
                    row_max.data());
        } else {
          T.noalias() = Vi * Vj.transpose();
        }
#else
        T.noalias() = Vi * Vj.transpose();
#endif
        const double thr = std::max(local.floor(), global_floor.load(std::memory_order_relaxed));
        collect_tile(tile, row_max, ni, nj, i0, j0, bj == bi, use_avx2, scale, by, thr, local);
      }
      std::lock_guard<std::mutex> lock(global_mutex);
      global.merge(local);
      global_floor.store(global.floor(), std::memory_order_relaxed);
    }
  });
  return to_list(global.sorted());
}

PairList sparse_top_pairs(const SparseSetView& in, const WeightTable& weights, std::size_t k,
                          RankBy by, int n_threads, std::uint64_t max_terms) {
  check_k(in.n, k);
  std::uint64_t terms = 0;
  for (std::size_t s = 0; s < in.size; ++s) {
    const std::size_t t = in.order(s);
    if (t < 2 || weights.at(2, t) == 0.0) continue;
    terms += binomial_saturating(t, 2);
    if (terms > max_terms) {
      throw std::invalid_argument("the supports hold more than max_terms = " +
                                  std::to_string(max_terms) +
                                  " pair terms; raise max_terms or prune high-order supports");
    }
  }
  // Partition pairs by their first component so each thread owns its own map; every pair's
  // value is summed in support order in exactly one map, so results do not depend on threads.
  // More parts than components would leave parts empty; each part holds a top-k heap.
  const auto parts = std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(n_threads)), in.n);
  require_bytes(checked_mul(checked_mul(k, parts + 1, "sparse_top_pairs"), sizeof(ScoredPair),
                            "sparse_top_pairs"), "sparse_top_pairs");
  std::vector<PairMap> maps;
  maps.reserve(parts);
  for (std::size_t p = 0; p < parts; ++p) {
    maps.emplace_back(static_cast<std::size_t>(std::min<std::uint64_t>(terms / parts, 1U << 20)) + 16);
  }
  std::vector<TopK> tops(parts, TopK(k));
  parallel_for(0, parts, 1, static_cast<int>(parts), [&](std::size_t p0, std::size_t p1) {
    for (std::size_t p = p0; p < p1; ++p) {
      PairMap& map = maps[p];
      for (std::size_t s = 0; s < in.size; ++s) {
        const std::size_t t = in.order(s);
        if (t < 2) continue;
        const double w = weights.at(2, t);
        if (w == 0.0 || in.values[s] == 0.0) continue;
        const double c = w * in.values[s];
        const std::int32_t* sup = in.support(s);
        for (std::size_t a = 0; a + 1 < t; ++a) {
          if (static_cast<std::size_t>(sup[a]) % parts != p) continue;
          for (std::size_t b = a + 1; b < t; ++b) map.add(pair_key(sup[a], sup[b]), c);
        }
      }
      TopK& top = tops[p];
      map.for_each([&](std::uint64_t key, double v) {
        if (v == 0.0) return;  // cancelled exactly: a zero pair like the untouched ones
        top.push(ScoredPair{rank_key(v, by), v, static_cast<std::int32_t>(key >> 32),
                            static_cast<std::int32_t>(key & 0xffffffffULL)});
      });
    }
  });
  TopK global(k);
  for (const TopK& t : tops) global.merge(t);
  // Zero pairs tie at key 0 and rank by (i, j): only the first k of them can matter.
  if (!(global.full() && global.floor() > 0.0)) {
    std::size_t zeros = 0;
    for (std::size_t i = 0; i + 1 < in.n && zeros < k; ++i) {
      const PairMap& map = maps[i % parts];
      for (std::size_t j = i + 1; j < in.n && zeros < k; ++j) {
        const auto ii = static_cast<std::int32_t>(i);
        const auto jj = static_cast<std::int32_t>(j);
        if (map.get(pair_key(ii, jj)) != 0.0) continue;
        global.push(ScoredPair{0.0, 0.0, ii, jj});
        ++zeros;
      }
    }
  }
  return to_list(global.sorted());
}

}  // namespace fastspex
