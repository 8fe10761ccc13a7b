// Binary BCH codes over GF(2^m), used by SPEX to read the support of a singleton bin.
//
// SPEX measures, for a sparse vector k in {0,1}^n (an interaction's support), the bits of a
// linear syndrome s = A k (one bit per delay). We take A from a narrow-sense t-error-correcting
// BCH code in systematic form: with generator g(x) of degree r, component i sits at codeword
// position r + i and its syndrome column is x^(r+i) mod g(x); positions 0..r-1 are the r
// measured bits themselves. A flipped measurement (noise) is then just one more error at a
// parity position, so a support of size w survives up to t - w flipped measurements.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastspex {

// GF(2^m) for 2 <= m <= 20, by exp/log tables over a fixed primitive polynomial.
class GF2m {
 public:
  explicit GF2m(int m);
  int m() const { return m_; }
  std::uint32_t order() const { return order_; }  // 2^m - 1, the multiplicative order
  std::uint32_t exp(std::uint64_t i) const { return exp_[i % order_]; }
  std::uint32_t log(std::uint32_t a) const { return log_[a]; }  // a != 0
  // exp table over [0, 2*order), so a sum of two logs needs no reduction.
  const std::uint32_t* exp_table() const { return exp_.data(); }
  std::uint32_t mul(std::uint32_t a, std::uint32_t b) const {
    return (a == 0 || b == 0) ? 0 : exp_[log_[a] + log_[b]];  // exp_ has 2*order entries
  }
  std::uint32_t inv(std::uint32_t a) const { return exp_[(order_ - log_[a]) % order_]; }
  std::uint32_t div(std::uint32_t a, std::uint32_t b) const {
    return a == 0 ? 0 : exp_[log_[a] + order_ - log_[b]];
  }

 private:
  int m_;
  std::uint32_t order_;
  std::vector<std::uint32_t> exp_;
  std::vector<std::uint32_t> log_;
};

// Working memory of one decoder call (one per thread).
struct BchScratch {
  std::vector<std::uint32_t> syndromes, lambda, prev, tmp;
  std::vector<std::uint32_t> positions;
};

class BchCode {
 public:
  static constexpr int kMaxM = 20;
  static constexpr int kMaxT = 16;

  // The shortest code (smallest m <= 20) correcting t errors with at least n information
  // positions. Throws std::invalid_argument if none exists (n too large) or t is out of range.
  BchCode(std::size_t n, int t);

  std::size_t n() const { return n_; }
  int t() const { return t_; }
  int m() const { return field_.m(); }
  std::size_t length() const { return field_.order(); }  // unshortened length 2^m - 1
  std::size_t redundancy() const { return r_; }           // measured bits r = deg g
  std::size_t column_words() const { return col_words_; }
  const GF2m& field() const { return field_; }

  // The r syndrome bits of component i (bit q at word q/64): x^(r+i) mod g(x).
  const std::uint64_t* column(std::size_t i) const { return columns_.data() + i * col_words_; }
  // Generator polynomial, coefficient of x^e at index e (degree r, monic).
  const std::vector<std::uint8_t>& generator() const { return generator_; }

  // Decodes r measured bits (packed like a column). On success returns true, with the
  // components (sorted) whose syndromes, together with the flipped measurement bits `flips`
  // (sorted), add up to `bits`; total size <= t. Returns false when more than t errors are
  // detected.
  bool decode(const std::uint64_t* bits, std::vector<std::uint32_t>& components,
              std::vector<std::uint32_t>& flips, BchScratch& scratch) const;

 private:
  // Whether the locator of degree L splits into distinct linear factors over GF(2^m).
  bool splits(const std::vector<std::uint32_t>& lam, std::size_t L, BchScratch& s) const;

  std::size_t n_;
  int t_;
  GF2m field_;
  std::size_t r_ = 0;
  std::size_t col_words_ = 0;
  std::vector<std::uint8_t> generator_;
  std::vector<std::uint64_t> columns_;
};

}  // namespace fastspex
