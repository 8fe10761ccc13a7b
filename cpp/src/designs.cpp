#include "fastspex/designs.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"
#include "fastspex/rng.hpp"

namespace fastspex {
namespace {

// Rows per random stream. Fixed, so a seed gives the same design on any number of threads.
constexpr std::size_t kRandomGrain = 256;

std::uint64_t hash_row(const std::uint64_t* row, std::size_t w) {
  std::uint64_t h = 0x84222325CBF29CE4ULL ^ w;
  for (std::size_t k = 0; k < w; ++k) {
    std::uint64_t x = row[k] + h;
    h = splitmix64(x);
  }
  return h;
}

}  // namespace

void design_bernoulli(BitRows out, double p, std::uint64_t seed, int n_threads) {
  if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("p must lie in [0, 1]");
  const std::size_t w = out.words();
  const std::uint64_t tail = tail_mask(out.n);
  // A bit is 1 with probability q / 2^32 (p rounded to 32 binary digits), i.e. when a uniform
  // u in [0, 1) compares below q / 2^32. Two exact ways to decide 64 lanes at once:
  //  - short expansions (p = 1/2, 3/4, ...): combine fair words digit by digit of q, least
  //    significant first (OR on a 1 digit, AND on a 0 digit) -- one word per digit;
  //  - otherwise compare u with q digit by digit, most significant first, stopping once every
  //    lane has differed from q -- about 8 words per 64 bits whatever p is.
  const auto q = static_cast<std::uint64_t>(std::llround(p * 4294967296.0));
  const int low = q == 0 ? 32 : __builtin_ctzll(q);
  const bool short_expansion = 32 - low <= 8;
  auto draw_word = [&](Xoshiro256& rng) -> std::uint64_t {
    if (q == 0) return 0;
    if (q >= (std::uint64_t{1} << 32)) return ~std::uint64_t{0};
    std::uint64_t word = 0;
    if (short_expansion) {
      for (int d = low; d < 32; ++d) {
        word = ((q >> d) & 1U) ? (word | rng.next()) : (word & rng.next());
      }
      return word;
    }
    std::uint64_t undecided = ~std::uint64_t{0};
    for (int d = 31; d >= low && undecided != 0; --d) {
      const std::uint64_t r = rng.next();
      if ((q >> d) & 1U) {
        word |= undecided & ~r;  // u's digit 0 < q's digit 1: u < q
        undecided &= r;
      } else {
        undecided &= ~r;  // u's digit 1 > q's digit 0: u > q
      }
    }
    return word;  // lanes still undecided match q's digits, so u >= q: they stay 0
  };
  parallel_for(0, out.rows, kRandomGrain, n_threads, [&](std::size_t lo, std::size_t hi) {
    Xoshiro256 rng(seed, lo / kRandomGrain);
    for (std::size_t i = lo; i < hi; ++i) {
      std::uint64_t* r = out.row(i);
      for (std::size_t k = 0; k < w; ++k) r[k] = draw_word(rng);
      if (w) r[w - 1] &= tail;
    }
  });
}

void design_random_subsets(BitRows out, std::size_t k_min, std::size_t k_max, bool count_kept,
                           std::uint64_t seed, int n_threads) {
  const std::size_t n = out.n;
  if (k_min > k_max) throw std::invalid_argument("k_min must not exceed k_max");
  if (k_max > n) throw std::invalid_argument("k_max must not exceed n");
  parallel_for(0, out.rows, kRandomGrain, n_threads, [&](std::size_t lo, std::size_t hi) {
    Xoshiro256 rng(seed, lo / kRandomGrain);
    for (std::size_t i = lo; i < hi; ++i) {
      std::uint64_t* r = out.row(i);
      const std::size_t k = k_min + static_cast<std::size_t>(rng.below(k_max - k_min + 1));
      // Floyd's sampling of k distinct positions; the row itself records what is chosen.
      fill_row(r, n, !count_kept);
      for (std::size_t j = n - k; j < n; ++j) {
        std::size_t t = static_cast<std::size_t>(rng.below(j + 1));
        const bool taken = get_bit(r, t) == count_kept;
        if (taken) t = j;
        if (count_kept) set_bit(r, t); else clear_bit(r, t);
      }
    }
  });
}

std::size_t leave_k_out_rows(std::size_t n, std::size_t k_min, std::size_t k_max) {
  if (k_min > k_max) throw std::invalid_argument("k_min must not exceed k_max");
  if (k_max > n) throw std::invalid_argument("k_max must not exceed n");
  std::size_t total = 0;
  unsigned __int128 c = 1;  // C(n, j), built up exactly
  for (std::size_t j = 0; j <= k_max; ++j) {
    if (j > 0) c = c * (n - j + 1) / j;
    if (c > (unsigned __int128)(std::size_t{1} << 62)) {
      throw MemoryLimitError("leave-k-out design has more than 2^62 rows");
    }
    if (j >= k_min) {
      total += static_cast<std::size_t>(c);
      if (total > (std::size_t{1} << 62)) throw MemoryLimitError("leave-k-out design too large");
    }
  }
  return total;
}

void design_leave_k_out(BitRows out, std::size_t k_min, std::size_t k_max, int n_threads) {
  const std::size_t n = out.n;
  if (out.rows != leave_k_out_rows(n, k_min, k_max)) {
    throw std::invalid_argument("leave-k-out: output has the wrong number of rows");
  }
  // Filling whole rows is the memory-bound part: do it in parallel, then clear k bits per row.
  parallel_for(0, out.rows, 4096, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) fill_row(out.row(i), n, true);
  });
  std::size_t row = 0;
  std::vector<std::size_t> c;
  for (std::size_t k = k_min; k <= k_max; ++k) {
    c.resize(k);
    std::iota(c.begin(), c.end(), std::size_t{0});
    for (;;) {
      std::uint64_t* r = out.row(row++);
      for (std::size_t j : c) clear_bit(r, j);
      // Next combination in lexicographic order.
      std::size_t i = k;
      while (i > 0 && c[i - 1] == n - k + (i - 1)) --i;
      if (i == 0) break;
      ++c[i - 1];
      for (std::size_t j = i; j < k; ++j) c[j] = c[j - 1] + 1;
    }
  }
}

void design_exhaustive(BitRows out, int n_threads) {
  if (out.n > 30) throw std::invalid_argument("exhaustive design needs n <= 30");
  if (out.rows != (std::size_t{1} << out.n)) {
    throw std::invalid_argument("exhaustive: output must have 2^n rows");
  }
  if (out.n == 0) {
    return;
  }
  parallel_for(0, out.rows, 1 << 16, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) out.data[i] = i;  // one word per row
  });
}

void design_gf2_subsample(ConstBitRows h, ConstBitRows delays, BitRows out, int n_threads) {
  const std::size_t b = h.rows;
  const std::size_t n = out.n;
  const std::size_t w = out.words();
  if (h.n != n || delays.n != n) throw std::invalid_argument("H and delays must have n columns");
  if (b > 40) throw std::invalid_argument("gf2 design: b must be <= 40");
  const std::size_t block = std::size_t{1} << b;
  if (out.rows != checked_mul(block, delays.rows, "gf2 design")) {
    throw std::invalid_argument("gf2 design: output must have 2^b * P rows");
  }
  if (delays.rows == 0 || n == 0) return;
  // Chunks fix the high bits of l; within a chunk row(l) = row(l & (l-1)) XOR H[ctz(l)], so a
  // chunk only reads rows it wrote itself.
  const std::size_t s = std::min<std::size_t>(b, 10);
  const std::size_t chunk = std::size_t{1} << s;
  parallel_for(0, block / chunk, 1, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t c = lo; c < hi; ++c) {
      const std::size_t base = c * chunk;
      std::uint64_t* first = out.row(base);
      std::fill(first, first + w, std::uint64_t{0});
      for (std::size_t k = s; k < b; ++k) {
        if ((c >> (k - s)) & 1U) {
          const std::uint64_t* hk = h.row(k);
          for (std::size_t t = 0; t < w; ++t) first[t] ^= hk[t];
        }
      }
      for (std::size_t l = 1; l < chunk; ++l) {
        const std::uint64_t* prev = out.row(base + (l & (l - 1)));
        const std::uint64_t* hk = h.row(static_cast<std::size_t>(__builtin_ctzll(l)));
        std::uint64_t* r = out.row(base + l);
        for (std::size_t t = 0; t < w; ++t) r[t] = prev[t] ^ hk[t];
      }
      for (std::size_t p = delays.rows; p-- > 0;) {
        const std::uint64_t* d = delays.row(p);
        for (std::size_t l = 0; l < chunk; ++l) {
          const std::uint64_t* src = out.row(base + l);
          std::uint64_t* dst = out.row(p * block + base + l);
          for (std::size_t t = 0; t < w; ++t) dst[t] = src[t] ^ d[t];
        }
      }
    }
  });
}

void random_bits(BitRows out, std::uint64_t seed, int n_threads) {
  design_bernoulli(out, 0.5, seed, n_threads);
}

std::vector<std::int64_t> unique_rows(ConstBitRows in, std::int64_t* inverse, int n_threads) {
  const std::size_t m = in.rows;
  const std::size_t w = in.words();
  std::vector<std::uint64_t> hashes(m);
  parallel_for(0, m, 4096, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) hashes[i] = hash_row(in.row(i), w);
  });
  std::vector<std::int64_t> order(m);
  std::iota(order.begin(), order.end(), std::int64_t{0});
  auto row_less = [&](std::int64_t a, std::int64_t b) {
    if (hashes[a] != hashes[b]) return hashes[a] < hashes[b];
    const std::uint64_t* ra = in.row(static_cast<std::size_t>(a));
    const std::uint64_t* rb = in.row(static_cast<std::size_t>(b));
    for (std::size_t t = 0; t < w; ++t) {
      if (ra[t] != rb[t]) return ra[t] < rb[t];
    }
    return a < b;
  };
  std::sort(order.begin(), order.end(), row_less);
  auto same = [&](std::int64_t a, std::int64_t b) {
    if (hashes[a] != hashes[b]) return false;
    return std::equal(in.row(static_cast<std::size_t>(a)), in.row(static_cast<std::size_t>(a)) + w,
                      in.row(static_cast<std::size_t>(b)));
  };
  std::vector<std::int64_t> reps;
  for (std::size_t i = 0; i < m; ++i) {
    // Within a group of equal rows the smallest index sorts first: it is the representative.
    if (i == 0 || !same(order[i - 1], order[i])) reps.push_back(order[i]);
    inverse[order[i]] = reps.back();
  }
  std::sort(reps.begin(), reps.end());
  std::vector<std::int64_t> position(m, -1);
  for (std::size_t u = 0; u < reps.size(); ++u) position[static_cast<std::size_t>(reps[u])] = static_cast<std::int64_t>(u);
  for (std::size_t i = 0; i < m; ++i) inverse[i] = position[static_cast<std::size_t>(inverse[i])];
  return reps;
}

}  // namespace fastspex
