// Sparse coefficient sets: K supports (sorted component ids, CSR) with one value each, plus a
// hashed accumulator that merges duplicate supports. Conversions between expansions emit many
// (support, value) terms; the accumulator sums them and returns a canonical, sorted set.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastspex {

// A non-owning CSR view: support k is indices[indptr[k] .. indptr[k+1]), values[k] its value.
struct SparseSetView {
  std::size_t n = 0;     // components
  std::size_t size = 0;  // supports (K)
  const std::int64_t* indptr = nullptr;
  const std::int32_t* indices = nullptr;
  const double* values = nullptr;

  std::size_t order(std::size_t k) const {
    return static_cast<std::size_t>(indptr[k + 1] - indptr[k]);
  }
  const std::int32_t* support(std::size_t k) const { return indices + indptr[k]; }
  std::size_t max_order() const;
};

// An owning CSR set; supports are sorted by (size, lexicographic order) when built by SupportMap.
struct SparseSet {
  std::size_t n = 0;
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> indices;
  std::vector<double> values;

  SparseSetView view() const {
    return SparseSetView{n, values.size(), indptr.data(), indices.data(), values.data()};
  }
};

// Throws std::invalid_argument unless indptr starts at 0, never decreases, ends at the number of
// indices, and every support is strictly increasing within [0, n).
void validate_set(const SparseSetView& set, const char* what);

// Open-addressing hash map from a support (a sorted id list) to an accumulated value.
class SupportMap {
 public:
  explicit SupportMap(std::size_t expected = 16);
  // Adds `value` to the entry of support s[0..len) (s must be sorted and distinct).
  void add(const std::int32_t* s, std::size_t len, double value);
  std::size_t size() const { return entries_.size(); }
  // The accumulated set sorted by (size, lexicographic), dropping entries with |value| <= tol
  // (tol = 0 drops exact zeros only; a negative tol keeps everything).
  SparseSet to_set(std::size_t n, double tol) const;

 private:
  struct Entry {
    std::uint64_t hash;
    std::size_t offset;
    std::uint32_t len;
    double value;
  };
  void grow();
  std::size_t find_slot(std::uint64_t hash, const std::int32_t* s, std::size_t len) const;

  std::vector<Entry> entries_;
  std::vector<std::int32_t> keys_;     // supports of all entries, back to back
  std::vector<std::uint32_t> slots_;   // entry id + 1, 0 = empty; capacity is a power of two
};

std::uint64_t hash_support(const std::int32_t* s, std::size_t len);

}  // namespace fastspex
