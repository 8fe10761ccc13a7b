// Bit-column kernels shared by the regression solvers: popcounts of ANDed columns, sums of a
// residual over the set bits of a column (byte lookup tables), and the all-pairs gradient scan.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fastspex/regression.hpp"

namespace fastspex::regression {

// popcount(a & b) over `words` words (hardware popcount when the CPU has it).
std::uint64_t and_popcount(const std::uint64_t* a, const std::uint64_t* b, std::size_t words);
std::uint64_t and3_popcount(const std::uint64_t* a, const std::uint64_t* b, const std::uint64_t* c,
                           std::size_t words);
std::uint64_t popcount_words(const std::uint64_t* a, std::size_t words);

// Sums of a vector r over the set bits of any column: 256 partial sums per byte of the
// column, so a column costs m/8 lookups instead of m/2 data-dependent branches.
class ByteTable {
 public:
  void build(const double* r, std::size_t m, int n_threads);
  double sum(const std::uint64_t* bits, std::size_t words) const;
  double sum_and(const std::uint64_t* a, const std::uint64_t* b, std::size_t words) const;

 private:
  std::vector<double> t_;
};

// r[s] -= value for every set bit s of the column.
void subtract_on_bits(const std::uint64_t* bits, std::size_t words, double value, double* r);

// The `keep` pairs (a < b) with the largest |Σ_{s: x_sa x_sb = 1} r_s| (ties: smaller key
// first), found by streaming float GEMM tiles over all n(n-1)/2 pairs; memory O(m·n + keep).
// `rest` receives the largest |value| among the pairs not kept (float accuracy).
struct PairScan {
  std::vector<Term> pairs;
  double rest = 0.0;
};
class PairScanner {
 public:
  PairScanner(const BitColumns& X, int n_threads);
  PairScan scan(const double* r, std::size_t keep) const;

 private:
  const BitColumns& X_;
  std::vector<float> Xf_;  // m x n column-major 0/1
  int n_threads_;
};

}  // namespace fastspex::regression
