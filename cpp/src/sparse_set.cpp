#include "fastspex/sparse_set.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "fastspex/errors.hpp"

namespace fastspex {

std::size_t SparseSetView::max_order() const {
  std::size_t out = 0;
  for (std::size_t k = 0; k < size; ++k) out = std::max(out, order(k));
  return out;
}

void validate_set(const SparseSetView& set, const char* what) {
  const std::string w(what);
  if (set.indptr[0] != 0) throw std::invalid_argument(w + ": indptr must start at 0");
  for (std::size_t k = 0; k < set.size; ++k) {
    if (set.indptr[k + 1] < set.indptr[k]) {
      throw std::invalid_argument(w + ": indptr must be non-decreasing");
    }
  }
  for (std::size_t k = 0; k < set.size; ++k) {
    const std::int32_t* s = set.support(k);
    const std::size_t len = set.order(k);
    for (std::size_t a = 0; a < len; ++a) {
      if (s[a] < 0 || static_cast<std::size_t>(s[a]) >= set.n) {
        throw std::invalid_argument(w + ": support " + std::to_string(k) +
                                    " has a component id outside [0, n)");
      }
      if (a > 0 && s[a] <= s[a - 1]) {
        throw std::invalid_argument(w + ": support " + std::to_string(k) +
                                    " is not strictly increasing (sorted, distinct ids)");
      }
    }
  }
}

std::uint64_t hash_support(const std::int32_t* s, std::size_t len) {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ len;
  for (std::size_t a = 0; a < len; ++a) {
    h ^= static_cast<std::uint32_t>(s[a]);
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
  }
  h ^= h >> 29;
  h *= 0x94D049BB133111EBULL;
  h ^= h >> 32;
  return h;
}

SupportMap::SupportMap(std::size_t expected) {
  std::size_t cap = 16;
  while (cap < 2 * expected) cap <<= 1;
  slots_.assign(cap, 0);
  entries_.reserve(expected);
}

std::size_t SupportMap::find_slot(std::uint64_t hash, const std::int32_t* s,
                                  std::size_t len) const {
  const std::size_t mask = slots_.size() - 1;
  std::size_t pos = static_cast<std::size_t>(hash) & mask;
  for (;;) {
    const std::uint32_t id = slots_[pos];
    if (id == 0) return pos;
    const Entry& e = entries_[id - 1];
    if (e.hash == hash && e.len == len &&
        std::equal(s, s + len, keys_.data() + e.offset)) {
      return pos;
    }
    pos = (pos + 1) & mask;
  }
}

void SupportMap::grow() {
  const std::size_t cap = slots_.size() * 2;
  require_bytes(checked_mul(cap, sizeof(std::uint32_t), "SupportMap"), "SupportMap");
  slots_.assign(cap, 0);
  const std::size_t mask = cap - 1;
  for (std::size_t id = 0; id < entries_.size(); ++id) {
    std::size_t pos = static_cast<std::size_t>(entries_[id].hash) & mask;
    while (slots_[pos] != 0) pos = (pos + 1) & mask;
    slots_[pos] = static_cast<std::uint32_t>(id + 1);
  }
}

void SupportMap::add(const std::int32_t* s, std::size_t len, double value) {
  const std::uint64_t hash = hash_support(s, len);
  std::size_t pos = find_slot(hash, s, len);
  if (slots_[pos] != 0) {
    entries_[slots_[pos] - 1].value += value;
    return;
  }
  if (entries_.size() >= std::numeric_limits<std::uint32_t>::max() - 1) {
    throw MemoryLimitError("SupportMap: more than 4 billion distinct supports");
  }
  entries_.push_back(Entry{hash, keys_.size(), static_cast<std::uint32_t>(len), value});
  keys_.insert(keys_.end(), s, s + len);
  slots_[pos] = static_cast<std::uint32_t>(entries_.size());
  if (2 * entries_.size() > slots_.size()) grow();
}

SparseSet SupportMap::to_set(std::size_t n, double tol) const {
  std::vector<std::size_t> order;
  order.reserve(entries_.size());
  for (std::size_t id = 0; id < entries_.size(); ++id) {
    const double v = entries_[id].value;
    if (tol < 0 || std::abs(v) > tol) order.push_back(id);
  }
  const std::int32_t* keys = keys_.data();
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const Entry& x = entries_[a];
    const Entry& y = entries_[b];
    if (x.len != y.len) return x.len < y.len;
    return std::lexicographical_compare(keys + x.offset, keys + x.offset + x.len,
                                        keys + y.offset, keys + y.offset + y.len);
  });
  SparseSet out;
  out.n = n;
  out.indptr.reserve(order.size() + 1);
  out.values.reserve(order.size());
  for (std::size_t id : order) {
    const Entry& e = entries_[id];
    out.indices.insert(out.indices.end(), keys + e.offset, keys + e.offset + e.len);
    out.indptr.push_back(static_cast<std::int64_t>(out.indices.size()));
    out.values.push_back(e.value);
  }
  return out;
}

}  // namespace fastspex
