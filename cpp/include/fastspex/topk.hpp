// Streaming top-k of scored pairs. Ranking is a total order, so the result never depends on
// the number of threads or the order pairs arrive in: larger key first, then smaller i, then
// smaller j. The key is the score (largest), minus the score (smallest) or |score| (magnitude).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <stdexcept>
#include <vector>

namespace fastspex {

enum class RankBy { Largest, Smallest, Magnitude };

inline RankBy parse_rank_by(const std::string& name) {
  if (name == "largest") return RankBy::Largest;
  if (name == "smallest") return RankBy::Smallest;
  if (name == "magnitude") return RankBy::Magnitude;
  throw std::invalid_argument("by must be 'largest', 'smallest' or 'magnitude', got '" + name +
                              "'");
}

inline double rank_key(double score, RankBy by) {
  switch (by) {
    case RankBy::Largest:
      return score;
    case RankBy::Smallest:
      return -score;
    case RankBy::Magnitude:
      return std::abs(score);
  }
  return score;
}

struct ScoredPair {
  double key;
  double score;
  std::int32_t i;
  std::int32_t j;
};

// a ranks before b.
inline bool ranks_before(const ScoredPair& a, const ScoredPair& b) {
  if (a.key != b.key) return a.key > b.key;
  if (a.i != b.i) return a.i < b.i;
  return a.j < b.j;
}

class TopK {
 public:
  explicit TopK(std::size_t k) : k_(k) { heap_.reserve(k); }

  // Keys strictly below this can never enter (the heap is full and its worst is better).
  double floor() const {
    return heap_.size() < k_ ? -std::numeric_limits<double>::infinity() : heap_.front().key;
  }
  bool full() const { return heap_.size() >= k_; }

  void push(const ScoredPair& p) {
    if (k_ == 0) return;
    if (heap_.size() < k_) {
      heap_.push_back(p);
      std::push_heap(heap_.begin(), heap_.end(), ranks_before);  // worst at the front
    } else if (ranks_before(p, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), ranks_before);
      heap_.back() = p;
      std::push_heap(heap_.begin(), heap_.end(), ranks_before);
    }
  }
  void merge(const TopK& other) {
    for (const ScoredPair& p : other.heap_) push(p);
  }
  // Best first.
  std::vector<ScoredPair> sorted() const {
    std::vector<ScoredPair> out = heap_;
    std::sort(out.begin(), out.end(), ranks_before);
    return out;
  }

 private:
  std::size_t k_;
  std::vector<ScoredPair> heap_;
};

}  // namespace fastspex
