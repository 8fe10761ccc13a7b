// Binary BCH codes: field tables, generator polynomial, systematic syndrome columns, and
// syndrome decoding (Berlekamp-Massey, then a Chien search over the used positions only).
#include "fastspex/bch.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

namespace fastspex {
namespace {

// Primitive polynomials (bit e = coefficient of x^e) for m = 2..20 (Lin & Costello, table 2.7).
constexpr std::uint32_t kPrimitive[21] = {
    0,       0,       0x7,     0xB,     0x13,    0x25,     0x43,     0x89,     0x11D,   0x211,
    0x409,   0x805,   0x1053,  0x201B,  0x4443,  0x8003,   0x1100B,  0x20009,  0x40081, 0x80027,
    0x100009};

// Exponents of alpha that are roots of g: the cyclotomic cosets of 1, 3, ..., 2t-1 mod 2^m-1.
std::set<std::uint32_t> root_exponents(int m, int t) {
  const std::uint32_t order = (std::uint32_t{1} << m) - 1;
  std::set<std::uint32_t> roots;
  for (int j = 1; j <= 2 * t - 1; j += 2) {
    std::uint64_t e = static_cast<std::uint64_t>(j) % order;
    for (int s = 0; s < m; ++s) {
      roots.insert(static_cast<std::uint32_t>(e));
      e = (e * 2) % order;
    }
  }
  return roots;
}

int choose_m(std::size_t n, int t) {
  if (t < 1 || t > BchCode::kMaxT) {
    throw std::invalid_argument("BCH: t must lie in [1, " + std::to_string(BchCode::kMaxT) +
                                "], got " + std::to_string(t));
  }
  if (n == 0) throw std::invalid_argument("BCH: n must be positive");
  for (int m = 2; m <= BchCode::kMaxM; ++m) {
    const std::size_t order = (std::size_t{1} << m) - 1;
    if (order < n + 1 || static_cast<std::size_t>(2 * t) >= order) continue;
    const std::size_t r = root_exponents(m, t).size();
    if (order >= r && order - r >= n) return m;
  }
  throw std::invalid_argument("BCH: no code of length <= 2^20 - 1 corrects t = " +
                              std::to_string(t) + " errors with n = " + std::to_string(n) +
                              " information positions (n is too large)");
}

}  // namespace

GF2m::GF2m(int m) : m_(m) {
  if (m < 2 || m > BchCode::kMaxM) {
    throw std::invalid_argument("GF(2^m): m must lie in [2, 20], got " + std::to_string(m));
  }
  order_ = (std::uint32_t{1} << m) - 1;
  exp_.assign(2 * static_cast<std::size_t>(order_), 0);
  log_.assign(static_cast<std::size_t>(order_) + 1, 0);
  std::uint32_t x = 1;
  for (std::uint32_t i = 0; i < order_; ++i) {
    if (i > 0 && x == 1) throw std::logic_error("GF(2^m): polynomial is not primitive");
    exp_[i] = x;
    log_[x] = i;
    x <<= 1;
    if (x & (std::uint32_t{1} << m)) x ^= kPrimitive[m];
  }
  for (std::uint32_t i = 0; i < order_; ++i) exp_[order_ + i] = exp_[i];
}

BchCode::BchCode(std::size_t n, int t) : n_(n), t_(t), field_(choose_m(n, t)) {
  const int m = field_.m();
  const std::set<std::uint32_t> roots = root_exponents(m, t);
  r_ = roots.size();
  // g(x) = prod over roots (x + alpha^e), computed in GF(2^m); its coefficients must be binary.
  std::vector<std::uint32_t> g{1};
  for (std::uint32_t e : roots) {
    const std::uint32_t a = field_.exp(e);
    std::vector<std::uint32_t> next(g.size() + 1, 0);
    for (std::size_t i = 0; i < g.size(); ++i) {
      next[i + 1] ^= g[i];
      next[i] ^= field_.mul(g[i], a);
    }
    g.swap(next);
  }
  generator_.resize(g.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (g[i] > 1) throw std::logic_error("BCH: generator polynomial is not binary");
    generator_[i] = static_cast<std::uint8_t>(g[i]);
  }
  // Systematic syndrome columns: component i -> x^(r+i) mod g(x), by an LFSR step per i.
  col_words_ = std::max<std::size_t>(1, (r_ + 63) / 64);
  columns_.assign(n_ * col_words_, 0);
  std::vector<std::uint64_t> low(col_words_, 0), rem(col_words_, 0);
  for (std::size_t q = 0; q < r_; ++q) {
    if (generator_[q]) low[q / 64] |= std::uint64_t{1} << (q % 64);
  }
  rem = low;  // x^r mod g = g - x^r
  const std::size_t top_word = (r_ - 1) / 64, top_bit = (r_ - 1) % 64;
  for (std::size_t i = 0; i < n_; ++i) {
    std::copy(rem.begin(), rem.end(), columns_.begin() + static_cast<std::ptrdiff_t>(i * col_words_));
    const bool carry = (rem[top_word] >> top_bit) & 1U;
    for (std::size_t w = col_words_; w-- > 0;) {
      rem[w] <<= 1;
      if (w > 0) rem[w] |= rem[w - 1] >> 63;
    }
    // Drop bit r (it moved past the top) and reduce by g when it was set.
    if (top_bit == 63) {
      if (top_word + 1 < col_words_) rem[top_word + 1] = 0;
    } else {
      rem[top_word] &= (std::uint64_t{1} << (top_bit + 1)) - 1;
    }
    if (carry) {
      for (std::size_t w = 0; w < col_words_; ++w) rem[w] ^= low[w];
    }
  }
}

bool BchCode::splits(const std::vector<std::uint32_t>& lam, std::size_t L, BchScratch& s) const {
  // Work modulo the monic polynomial M = Lambda / lam[L]; x^(2^m) mod M by m squarings of x.
  const std::uint32_t lead_inv = field_.inv(lam[L]);
  std::vector<std::uint32_t>& mono = s.tmp;
  mono.assign(L + 1, 0);
  for (std::size_t i = 0; i <= L; ++i) mono[i] = field_.mul(lam[i], lead_inv);
  std::vector<std::uint32_t>& cur = s.prev;
  cur.assign(2 * L, 0);
  cur[1] = 1;  // x (L >= 2, so already reduced)
  std::vector<std::uint32_t>& sq = s.syndromes;  // free once Berlekamp-Massey is done
  sq.assign(2 * L, 0);
  for (int step = 0; step < field_.m(); ++step) {
    std::fill(sq.begin(), sq.end(), 0);
    for (std::size_t i = 0; i < L; ++i) {
      if (cur[i]) sq[2 * i] = field_.mul(cur[i], cur[i]);  // squaring is linear in char 2
    }
    for (std::size_t d = 2 * L - 2; d >= L; --d) {  // reduce degrees 2L-2 .. L
      const std::uint32_t c = sq[d];
      if (c == 0) continue;
      sq[d] = 0;
      for (std::size_t i = 0; i < L; ++i) sq[d - L + i] ^= field_.mul(c, mono[i]);
    }
    std::copy(sq.begin(), sq.begin() + static_cast<std::ptrdiff_t>(L), cur.begin());
  }
  for (std::size_t i = 0; i < L; ++i) {
    if (cur[i] != (i == 1 ? 1U : 0U)) return false;
  }
  return true;
}

namespace {

// Syndromes S_1..S_2t of the received remainder s(x) (its bits q < r): S_j = s(alpha^j), the
// odd ones summed directly and the even ones as squares (S_2j = S_j^2 in characteristic 2).
// Returns false when no measured bit is set (the zero syndrome).
bool compute_syndromes(const GF2m& field, const std::uint64_t* bits, std::size_t words,
                       std::size_t r, std::size_t two_t, std::vector<std::uint32_t>& syn) {
  syn.assign(two_t + 1, 0);
  bool any = false;
  for (std::size_t w = 0; w < words; ++w) {
    std::uint64_t word = bits[w];
    while (word) {
      const auto q = static_cast<std::uint64_t>(w * 64 + static_cast<std::size_t>(__builtin_ctzll(word)));
      word &= word - 1;
      if (q >= r) continue;  // bits past r are not measurements
      any = true;
      for (std::size_t j = 1; j <= two_t; j += 2) syn[j] ^= field.exp(j * q);
    }
  }
  if (!any) return false;
  for (std::size_t j = 2; j <= two_t; j += 2) syn[j] = field.mul(syn[j / 2], syn[j / 2]);
  return true;
}

// Berlekamp-Massey: the shortest LFSR (error locator Lambda, left in `lam` with 2t + 2
// coefficients) generating S_1..S_2t. Returns its length L.
std::size_t berlekamp_massey(const GF2m& field, const std::vector<std::uint32_t>& syn,
                             std::size_t two_t, std::vector<std::uint32_t>& lam,
                             std::vector<std::uint32_t>& prev, std::vector<std::uint32_t>& tmp) {
  lam.assign(two_t + 2, 0);
  prev.assign(two_t + 2, 0);
  lam[0] = prev[0] = 1;
  std::size_t L = 0, shift = 1;
  std::uint32_t prev_d = 1;
  for (std::size_t k = 0; k < two_t; ++k) {
    std::uint32_t d = syn[k + 1];
    for (std::size_t i = 1; i <= L; ++i) d ^= field.mul(lam[i], syn[k + 1 - i]);
    if (d == 0) {
      ++shift;
      continue;
    }
    const std::uint32_t coef = field.div(d, prev_d);
    if (2 * L <= k) {
      tmp = lam;
      for (std::size_t i = 0; i + shift < lam.size(); ++i) lam[i + shift] ^= field.mul(coef, prev[i]);
      L = k + 1 - L;
      prev.swap(tmp);
      prev_d = d;
      shift = 1;
    } else {
      for (std::size_t i = 0; i + shift < lam.size(); ++i) lam[i + shift] ^= field.mul(coef, prev[i]);
      ++shift;
    }
  }
  return L;
}

// Chien search in the log domain over positions p < used: Lambda(alpha^-p) = 0, evaluated as
// 1 + sum of lam_i * alpha^(-i p) with each term's exponent stepped by -i. Appends the roots'
// positions; true when all L were found.
bool chien_search(const GF2m& field, const std::vector<std::uint32_t>& lam, std::size_t L,
                  std::size_t used, std::vector<std::uint32_t>& positions) {
  const std::uint32_t order = field.order();
  std::uint32_t logs[2 * BchCode::kMaxT + 2];
  std::uint32_t steps[2 * BchCode::kMaxT + 2];
  std::size_t terms = 0;
  for (std::size_t i = 1; i <= L; ++i) {
    if (lam[i] == 0) continue;
    logs[terms] = field.log(lam[i]);
    steps[terms] = static_cast<std::uint32_t>((order - (i % order)) % order);
    ++terms;
  }
  const std::uint32_t* exp_table = field.exp_table();
  for (std::size_t p = 0; p < used; ++p) {
    std::uint32_t value = 1;
    for (std::size_t k = 0; k < terms; ++k) {
      value ^= exp_table[logs[k]];
      logs[k] += steps[k];
      if (logs[k] >= order) logs[k] -= order;
    }
    if (value == 0) {
      positions.push_back(static_cast<std::uint32_t>(p));
      if (positions.size() == L) break;
    }
  }
  return positions.size() == L;
}

}  // namespace

bool BchCode::decode(const std::uint64_t* bits, std::vector<std::uint32_t>& components,
                     std::vector<std::uint32_t>& flips, BchScratch& s) const {
  components.clear();
  flips.clear();
  const std::size_t two_t = 2 * static_cast<std::size_t>(t_);
  if (!compute_syndromes(field_, bits, col_words_, r_, two_t, s.syndromes)) return true;
  std::vector<std::uint32_t>& lam = s.lambda;
  const std::size_t L = berlekamp_massey(field_, s.syndromes, two_t, lam, s.prev, s.tmp);
  if (L > static_cast<std::size_t>(t_) || lam[L] == 0) return false;
  for (std::size_t i = L + 1; i < lam.size(); ++i) {
    if (lam[i] != 0) return false;
  }
  // Roots X^-1 of Lambda, with X = alpha^p, searched over the used positions p < r + n only.
  const std::size_t used = r_ + n_;
  s.positions.clear();
  if (L == 1) {
    const std::uint32_t p = field_.log(lam[1]);  // 1 + lam1 x = 0 at x = lam1^-1 = alpha^-p
    if (p >= used) return false;
    s.positions.push_back(p);
  } else {
    // Lambda has L distinct roots in GF(2^m) iff it divides x^(2^m) - x. Checking that costs
    // m * L^2 products and rejects almost every miscorrection before the long Chien search.
    if (!splits(lam, L, s)) return false;
    if (!chien_search(field_, lam, L, used, s.positions)) return false;
  }
  for (std::uint32_t p : s.positions) {
    if (p < r_) {
      flips.push_back(p);
    } else {
      components.push_back(static_cast<std::uint32_t>(p - r_));
    }
  }
  std::sort(components.begin(), components.end());
  std::sort(flips.begin(), flips.end());
  return true;
}

}  // namespace fastspex
