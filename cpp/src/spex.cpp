// SPEX recovery: per-block Walsh-Hadamard transforms, singleton detection with hard and Chase
// (soft) BCH decoding, peeling across groups, and a least-squares refit on the found support.
#include "fastspex/spex.hpp"

#include <Eigen/Sparse>
#include <Eigen/SparseCholesky>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "fastspex/dense_transforms.hpp"
#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"

namespace fastspex {
namespace {

using Support = std::vector<std::uint32_t>;

struct SupportHash {
  std::size_t operator()(const Support& s) const noexcept {
    std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ s.size();
    for (std::uint32_t v : s) h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return static_cast<std::size_t>(h);
  }
};

struct Detection {
  bool ok = false;
  Support k;
  double rho = 0.0;
};

// Per-thread working memory of the detector.
struct Scratch {
  BchScratch bch;
  std::vector<std::uint64_t> bits, trial, sig;
  Support comps;
  std::vector<std::uint32_t> flips, order;
  std::vector<std::pair<double, std::uint32_t>> patterns;
};

class Problem {
 public:
  Problem(ConstBitRows hashes, int groups, int b, const BchCode& code, const SpexOptions& opt)
      : code_(code), opt_(opt), n_(code.n()), C_(static_cast<std::size_t>(groups)),
        b_(b), B_(std::size_t{1} << b), r_(code.redundancy()), P_(code.redundancy() + 1),
        sig_words_((P_ + 63) / 64) {
    hash_.assign(C_ * n_, 0);
    for (std::size_t c = 0; c < C_; ++c) {
      for (int row = 0; row < b_; ++row) {
        const std::uint64_t* bits = hashes.row(c * static_cast<std::size_t>(b_) + static_cast<std::size_t>(row));
        for (std::size_t w = 0; w < hashes.words(); ++w) {
          std::uint64_t word = bits[w];
          while (word) {
            const std::size_t i = w * 64 + static_cast<std::size_t>(__builtin_ctzll(word));
            word &= word - 1;
            hash_[c * n_ + i] |= std::uint32_t{1} << row;
          }
        }
      }
    }
  }

  std::size_t C() const { return C_; }
  std::size_t B() const { return B_; }
  std::size_t P() const { return P_; }
  std::size_t sig_words() const { return sig_words_; }

  std::uint32_t bin_of(std::size_t c, const Support& k) const {
    std::uint32_t j = 0;
    for (std::uint32_t i : k) j ^= hash_[c * n_ + i];
    return j;
  }

  // Bit p of `out` is set where sigma_p(k) = -1 (p = 0..P-1).
  void signature(const Support& k, std::uint64_t* out) const {
    std::fill(out, out + sig_words_, 0);
    const std::size_t cw = code_.column_words();
    // Row q + 1 of the delays reads bit q of the column: shift the XOR of columns up by one.
    std::uint64_t acc[(2 * BchCode::kMaxT * BchCode::kMaxM + 63) / 64 + 1] = {};
    for (std::uint32_t i : k) {
      const std::uint64_t* col = code_.column(i);
      for (std::size_t w = 0; w < cw; ++w) acc[w] ^= col[w];
    }
    for (std::size_t q = 0; q < r_; ++q) {
      if ((acc[q / 64] >> (q % 64)) & 1U) out[(q + 1) / 64] |= std::uint64_t{1} << ((q + 1) % 64);
    }
    if (opt_.complement && (k.size() & 1U)) {
      for (std::size_t p = 0; p < P_; ++p) out[p / 64] ^= std::uint64_t{1} << (p % 64);
    }
  }

  static double sign_of(const std::uint64_t* sig, std::size_t p) {
    return ((sig[p / 64] >> (p % 64)) & 1U) ? -1.0 : 1.0;
  }

  // Decides whether bin (c, j) with values u (P entries) holds a single coefficient.
  bool detect(std::size_t c, std::uint32_t j, const double* u, double zero_cut, double sig_cut,
              Scratch& s, Detection& out) const {
    double energy = 0.0, abs_sum = 0.0;
    for (std::size_t p = 0; p < P_; ++p) {
      energy += u[p] * u[p];
      abs_sum += std::fabs(u[p]);
    }
    if (energy <= zero_cut) return false;
    // No signature can fit better than the signs of u themselves: skip hopeless bins.
    const double best_residual = energy - abs_sum * abs_sum / static_cast<double>(P_);
    if (best_residual > opt_.residual_ratio * energy) return false;
    const std::size_t cw = code_.column_words();
    s.bits.assign(cw, 0);
    for (std::size_t q = 0; q < r_; ++q) {
      if (u[q + 1] * u[0] < 0) s.bits[q / 64] |= std::uint64_t{1} << (q % 64);
    }
    if (try_bits(c, j, u, energy, sig_cut, s.bits.data(), s, out)) return true;
    const std::size_t depth = std::min<std::size_t>(static_cast<std::size_t>(std::max(opt_.chase_bits, 0)), r_);
    if (depth == 0 || opt_.max_candidates <= 0) return false;
    // Chase: flip the least reliable measured bits (and the reference delay, which flips all
    // of them), trying patterns in order of the total magnitude they contradict.
    s.order.resize(r_);
    std::iota(s.order.begin(), s.order.end(), 0U);
    std::partial_sort(s.order.begin(), s.order.begin() + static_cast<std::ptrdiff_t>(depth), s.order.end(),
                      [&](std::uint32_t a, std::uint32_t b) {
                        return std::fabs(u[a + 1]) < std::fabs(u[b + 1]) ||
                               (std::fabs(u[a + 1]) == std::fabs(u[b + 1]) && a < b);
                      });
    const std::size_t items = depth + 1;  // the last item is the reference flip
    s.patterns.clear();
    for (std::uint32_t mask = 1; mask < (std::uint32_t{1} << items); ++mask) {
      double cost = 0.0;
      for (std::size_t it = 0; it < items; ++it) {
        if (!((mask >> it) & 1U)) continue;
        cost += it == depth ? std::fabs(u[0]) : std::fabs(u[s.order[it] + 1]);
      }
      s.patterns.emplace_back(cost, mask);
    }
    const std::size_t tries = std::min<std::size_t>(static_cast<std::size_t>(opt_.max_candidates), s.patterns.size());
    std::partial_sort(s.patterns.begin(), s.patterns.begin() + static_cast<std::ptrdiff_t>(tries), s.patterns.end());
    for (std::size_t t = 0; t < tries; ++t) {
      const std::uint32_t mask = s.patterns[t].second;
      s.trial = s.bits;
      for (std::size_t it = 0; it < depth; ++it) {
        if ((mask >> it) & 1U) s.trial[s.order[it] / 64] ^= std::uint64_t{1} << (s.order[it] % 64);
      }
      if ((mask >> depth) & 1U) {
        for (std::size_t q = 0; q < r_; ++q) s.trial[q / 64] ^= std::uint64_t{1} << (q % 64);
      }
      if (try_bits(c, j, u, energy, sig_cut, s.trial.data(), s, out)) return true;
    }
    return false;
  }

 private:
  bool try_bits(std::size_t c, std::uint32_t j, const double* u, double energy, double sig_cut,
                const std::uint64_t* bits, Scratch& s, Detection& out) const {
    if (!code_.decode(bits, s.comps, s.flips, s.bch)) return false;
    if (s.comps.size() > static_cast<std::size_t>(opt_.max_order)) return false;
    if (bin_of(c, s.comps) != j) return false;  // the hash must agree: b more parity checks
    s.sig.resize(sig_words_);
    signature(s.comps, s.sig.data());
    double dot = 0.0;
    for (std::size_t p = 0; p < P_; ++p) dot += sign_of(s.sig.data(), p) * u[p];
    const double rho = dot / static_cast<double>(P_);
    const double explained = rho * rho * static_cast<double>(P_);
    const double residual = energy - explained;
    if (residual > opt_.residual_ratio * energy || explained < sig_cut) return false;
    out.ok = true;
    out.k = s.comps;
    out.rho = rho;
    return true;
  }

  const BchCode& code_;
  const SpexOptions& opt_;
  std::size_t n_, C_;
  int b_;
  std::size_t B_, r_, P_, sig_words_;
  std::vector<std::uint32_t> hash_;  // hash_[c*n + i] = column i of H_c as a b-bit integer
};

bool support_less(const Support& a, const Support& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

// Least squares (optionally ridge) on `supports`, in the bin domain: by Parseval the sample-
// domain normal equations are (1/B) X^T X = sum over groups and delays of signature products
// within shared bins, and (1/B) X^T y = sum of signature-weighted original bin values.
// The residual energy is summed from the residuals themselves (bins no support touches, plus
// orig - fit in the touched ones), never expanded as |y|^2 - 2 b.rhs + b.Ab: that expansion
// cancels catastrophically when the fit explains nearly all of a large energy.
std::vector<double> refit(const Problem& pb, const std::vector<Support>& supports,
                          const std::vector<double>& orig, double ridge, double& rss_over_B) {
  const std::size_t K = supports.size(), C = pb.C(), P = pb.P(), sw = pb.sig_words();
  std::vector<std::uint64_t> sigs(K * sw);
  std::vector<std::pair<std::uint64_t, std::uint32_t>> where(K * C);
  for (std::size_t k = 0; k < K; ++k) {
    pb.signature(supports[k], sigs.data() + k * sw);
    for (std::size_t c = 0; c < C; ++c) {
      where[k * C + c] = {c * pb.B() + pb.bin_of(c, supports[k]), static_cast<std::uint32_t>(k)};
    }
  }
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(K));
  for (const auto& [bin, k] : where) {
    const double* u = orig.data() + bin * P;
    double acc = 0.0;
    for (std::size_t p = 0; p < P; ++p) acc += Problem::sign_of(sigs.data() + k * sw, p) * u[p];
    rhs[k] += acc;
  }
  std::sort(where.begin(), where.end());
  std::vector<Eigen::Triplet<double>> trip;
  trip.reserve(K + where.size());
  for (std::size_t k = 0; k < K; ++k) {
    trip.emplace_back(static_cast<int>(k), static_cast<int>(k), static_cast<double>(C * P));
  }
  for (std::size_t a = 0; a < where.size();) {
    std::size_t e = a;
    while (e < where.size() && where[e].first == where[a].first) ++e;
    for (std::size_t x = a; x < e; ++x) {
      for (std::size_t y = x + 1; y < e; ++y) {
        const std::uint64_t* sx = sigs.data() + where[x].second * sw;
        const std::uint64_t* sy = sigs.data() + where[y].second * sw;
        std::size_t differ = 0;
        for (std::size_t w = 0; w < sw; ++w) differ += static_cast<std::size_t>(__builtin_popcountll(sx[w] ^ sy[w]));
        const double dot = static_cast<double>(P) - 2.0 * static_cast<double>(differ);
        trip.emplace_back(static_cast<int>(where[x].second), static_cast<int>(where[y].second), dot);
        trip.emplace_back(static_cast<int>(where[y].second), static_cast<int>(where[x].second), dot);
      }
    }
    a = e;
  }
  Eigen::SparseMatrix<double> A(static_cast<Eigen::Index>(K), static_cast<Eigen::Index>(K));
  A.setFromTriplets(trip.begin(), trip.end());
  Eigen::SparseMatrix<double> Ar = A;
  if (ridge > 0) {
    for (std::size_t k = 0; k < K; ++k) Ar.coeffRef(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k)) += ridge * static_cast<double>(C * P);
  }
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(Ar);
  if (solver.info() != Eigen::Success) throw std::runtime_error("SPEX refit: factorisation failed");
  Eigen::VectorXd beta = solver.solve(rhs);
  if (solver.info() != Eigen::Success) throw std::runtime_error("SPEX refit: solve failed");
  std::vector<std::uint8_t> touched(C * pb.B(), 0);
  std::vector<double> resid(P);
  double rss = 0.0;
  for (std::size_t a = 0; a < where.size();) {  // `where` is sorted by bin
    const std::size_t bin = where[a].first;
    touched[bin] = 1;
    std::copy(orig.data() + bin * P, orig.data() + (bin + 1) * P, resid.begin());
    for (; a < where.size() && where[a].first == bin; ++a) {
      const std::uint32_t k = where[a].second;
      for (std::size_t p = 0; p < P; ++p) resid[p] -= beta[k] * Problem::sign_of(sigs.data() + k * sw, p);
    }
    for (double v : resid) rss += v * v;
  }
  for (std::size_t bin = 0; bin < touched.size(); ++bin) {
    if (touched[bin]) continue;
    for (std::size_t p = 0; p < P; ++p) rss += orig[bin * P + p] * orig[bin * P + p];
  }
  rss_over_B = rss;
  return std::vector<double>(beta.data(), beta.data() + K);
}

void check_recover_args(ConstBitRows hashes, int groups, int b, const BchCode& code,
                        const SpexOptions& opt) {
  if (groups < 1) throw std::invalid_argument("SPEX: groups must be >= 1");
  if (b < 1 || b > kSpexMaxB) {
    throw std::invalid_argument("SPEX: b must lie in [1, " + std::to_string(kSpexMaxB) + "]");
  }
  if (hashes.n != code.n() || hashes.rows != static_cast<std::size_t>(groups) * static_cast<std::size_t>(b)) {
    throw std::invalid_argument("SPEX: hashes must have groups * b rows over n components");
  }
  if (opt.max_order < 0) throw std::invalid_argument("SPEX: max_order must be >= 0");
  if (!(opt.residual_ratio > 0.0 && opt.residual_ratio < 1.0)) {
    throw std::invalid_argument("SPEX: residual_ratio must lie in (0, 1)");
  }
  if (opt.chase_bits > 16) throw std::invalid_argument("SPEX: chase_bits must be <= 16");
}

// The outputs' mean, sum of squares about it, and the scale the recovery divides by.
struct Standardisation {
  double mean = 0.0;
  double sq = 0.0;
  double scale = 1.0;
};

// Step 0. The recovery works on z = (y - mean) / sd and the coefficients are mapped back at
// the end (the empty set gets the mean back, every value is multiplied by sd). A large offset
// would otherwise dominate every energy and threshold (1e9 + g lost all its terms), and a tiny
// scale would fall under the absolute floors.
Standardisation standardise(const double* values, std::size_t total) {
  Standardisation st;
  for (std::size_t x = 0; x < total; ++x) st.mean += values[x];
  st.mean /= static_cast<double>(total);
  for (std::size_t x = 0; x < total; ++x) st.sq += (values[x] - st.mean) * (values[x] - st.mean);
  const double sd = std::sqrt(st.sq / static_cast<double>(total));
  st.scale = sd > 0.0 && std::isfinite(sd) ? sd : 1.0;
  return st;
}

// Step 1. Normalised WHT of every (group, delay) block of the standardised outputs, transposed
// to bins [c][j][p].
std::vector<double> transform_bins(const double* values, const Standardisation& st,
                                   const Problem& pb, int b, int threads) {
  const std::size_t C = pb.C(), B = pb.B(), P = pb.P(), total = C * B * P;
  std::vector<double> work(total);
  for (std::size_t x = 0; x < total; ++x) work[x] = (values[x] - st.mean) / st.scale;
  parallel_for(0, C * P, 1, threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t blk = lo; blk < hi; ++blk) {
      double* x = work.data() + blk * B;
      fwht_inplace(x, static_cast<std::size_t>(b), 1);
      const double inv_b = 1.0 / static_cast<double>(B);
      for (std::size_t l = 0; l < B; ++l) x[l] *= inv_b;
    }
  });
  std::vector<double> bins(total);
  for (std::size_t c = 0; c < C; ++c) {
    for (std::size_t p = 0; p < P; ++p) {
      const double* src = work.data() + (c * P + p) * B;
      for (std::size_t j = 0; j < B; ++j) bins[(c * B + j) * P + p] = src[j];
    }
  }
  return bins;
}

// Detection thresholds: bins at or below zero_cut are empty; a detection must explain at least
// sig_cut. With a known noise sd each bin entry carries noise of variance sd^2 / B.
struct Thresholds {
  double zero_cut = 0.0;
  double sig_cut = 0.0;
};

Thresholds thresholds(double noise_sd, double noise_z, double orig_energy, const Problem& pb) {
  const double B = static_cast<double>(pb.B()), P = static_cast<double>(pb.P());
  Thresholds th;
  if (noise_sd > 0) {
    const double var = noise_sd * noise_sd / B;
    th.zero_cut = var * (P + noise_z * std::sqrt(2.0 * P));
    th.sig_cut = noise_z * noise_z * var;
  } else {
    th.zero_cut = 1e-20 * orig_energy / static_cast<double>(pb.C() * pb.B()) + 1e-300;
    th.sig_cut = 0.0;
  }
  return th;
}

// sqrt of this is the noise sd estimate: residual energy per residual degree of freedom.
double noise_variance(double rss_over_B, std::size_t B, std::size_t samples, std::size_t terms) {
  const double s = static_cast<double>(samples);
  return s > static_cast<double>(terms)
             ? rss_over_B * static_cast<double>(B) / (s - static_cast<double>(terms))
             : 0.0;
}

// The supports found by peeling, in order of discovery, with their accumulated values.
struct Peeled {
  std::unordered_map<Support, std::size_t, SupportHash> index;
  std::vector<Support> supports;
  std::vector<double> values;
};

// Averages one round's detections of the same support (one per group at most), in bin order,
// and subtracts each from its bin in every group, marking those bins dirty.
// Returns false when the round detected nothing.
bool peel_round(const Problem& pb, const std::vector<Detection>& det, std::vector<double>& bins,
                std::vector<std::uint8_t>& dirty, std::vector<std::uint64_t>& sig, Peeled& found,
                SpexRecovery& res) {
  const std::size_t C = pb.C(), B = pb.B(), P = pb.P();
  std::unordered_map<Support, std::pair<double, int>, SupportHash> round;
  std::vector<const Support*> round_order;
  for (const Detection& d : det) {
    if (!d.ok) continue;
    ++res.detections;
    auto [pos, inserted] = round.try_emplace(d.k, 0.0, 0);
    pos->second.first += d.rho;
    pos->second.second += 1;
    if (inserted) round_order.push_back(&pos->first);
  }
  for (const Support* k : round_order) {
    const auto& [sum, count] = round.at(*k);
    const double rho = sum / count;
    auto [pos, inserted] = found.index.try_emplace(*k, found.supports.size());
    if (inserted) {
      found.supports.push_back(*k);
      found.values.push_back(0.0);
    }
    found.values[pos->second] += rho;
    pb.signature(*k, sig.data());
    for (std::size_t c = 0; c < C; ++c) {
      const std::size_t bin = c * B + pb.bin_of(c, *k);
      double* u = bins.data() + bin * P;
      for (std::size_t p = 0; p < P; ++p) u[p] -= rho * Problem::sign_of(sig.data(), p);
      dirty[bin] = 1;
    }
  }
  return !round.empty();
}

// Step 2. Peeling: detect singletons in every dirty bin (in parallel), subtract them, repeat
// until no bin changes or max_iter rounds. `bins` is left holding the residual.
Peeled peel(const Problem& pb, std::vector<double>& bins, const Thresholds& th,
            const SpexOptions& opt, SpexRecovery& res) {
  const std::size_t B = pb.B(), P = pb.P(), nbins = pb.C() * B;
  Peeled found;
  std::vector<std::uint8_t> dirty(nbins, 1);
  std::vector<std::uint32_t> todo;
  std::vector<Detection> det;
  std::vector<std::uint64_t> sig(pb.sig_words());
  for (int it = 0; it < opt.max_iter; ++it) {
    todo.clear();
    for (std::size_t bin = 0; bin < nbins; ++bin) {
      if (dirty[bin]) todo.push_back(static_cast<std::uint32_t>(bin));
      dirty[bin] = 0;
    }
    if (todo.empty()) break;
    det.assign(todo.size(), Detection{});
    parallel_for(0, todo.size(), 16, opt.n_threads, [&](std::size_t lo, std::size_t hi) {
      Scratch s;
      for (std::size_t x = lo; x < hi; ++x) {
        const std::size_t bin = todo[x];
        pb.detect(bin / B, static_cast<std::uint32_t>(bin % B), bins.data() + bin * P, th.zero_cut,
                  th.sig_cut, s, det[x]);
      }
    });
    const bool any = peel_round(pb, det, bins, dirty, sig, found, res);
    res.iterations = it + 1;
    if (!any) break;
  }
  return found;
}

// Step 3. Refit on the found support (always with the empty set), drop terms within prune_z
// standard errors of zero, and refit once more. Returns the coefficients (z units) of
// `support`, sorted by support_less; rss_over_B is the final refit's residual energy.
std::vector<double> refit_and_prune(const Problem& pb, const Peeled& found,
                                    const std::vector<double>& orig, const SpexOptions& opt,
                                    std::size_t samples, std::vector<Support>& support,
                                    double& rss_over_B, SpexRecovery& res) {
  support = found.supports;
  if (!found.index.count(Support{})) support.emplace_back();
  std::sort(support.begin(), support.end(), support_less);
  std::vector<double> beta = refit(pb, support, orig, opt.ridge, rss_over_B);
  if (opt.prune_z > 0 && support.size() > 1) {
    const double se = std::sqrt(noise_variance(rss_over_B, pb.B(), samples, support.size()) /
                                static_cast<double>(samples));
    std::vector<Support> kept;
    for (std::size_t k = 0; k < support.size(); ++k) {
      if (support[k].empty() || std::fabs(beta[k]) >= opt.prune_z * se) kept.push_back(support[k]);
    }
    if (kept.size() < support.size()) {
      res.pruned = support.size() - kept.size();
      support.swap(kept);
      beta = refit(pb, support, orig, opt.ridge, rss_over_B);
    }
  }
  return beta;
}

}  // namespace

void spex_delays(const BchCode& code, bool complement, BitRows out) {
  const std::size_t r = code.redundancy();
  if (out.rows != r + 1 || out.n != code.n()) throw std::invalid_argument("spex_delays: output has the wrong shape");
  for (std::size_t p = 0; p <= r; ++p) std::fill(out.row(p), out.row(p) + out.words(), 0);
  for (std::size_t i = 0; i < code.n(); ++i) {
    const std::uint64_t* col = code.column(i);
    for (std::size_t q = 0; q < r; ++q) {
      if ((col[q / 64] >> (q % 64)) & 1U) set_bit(out.row(q + 1), i);
    }
  }
  if (complement) {
    // XOR every delay with the all-kept mask, keeping the padding bits zero.
    const std::uint64_t tail = tail_mask(out.n);
    for (std::size_t p = 0; p <= r; ++p) {
      std::uint64_t* row = out.row(p);
      for (std::size_t w = 0; w < out.words(); ++w) row[w] = ~row[w];
      row[out.words() - 1] &= tail;
    }
  }
}

SpexRecovery spex_recover(const double* values, ConstBitRows hashes, int groups, int b,
                          const BchCode& code, const SpexOptions& opt) {
  check_recover_args(hashes, groups, b, code, opt);
  const Problem pb(hashes, groups, b, code, opt);
  const std::size_t C = pb.C(), B = pb.B(), P = pb.P();
  const std::size_t total = checked_mul(checked_mul(C, B, "SPEX"), P, "SPEX");
  require_bytes(checked_mul(total, 3 * sizeof(double), "SPEX"), "SPEX");

  const Standardisation st = standardise(values, total);
  const double noise_sd = opt.noise_sd > 0 ? opt.noise_sd / st.scale : opt.noise_sd;
  std::vector<double> bins = transform_bins(values, st, pb, b, opt.n_threads);
  const std::vector<double> orig = bins;
  double orig_energy = 0.0, dc_energy = 0.0;
  for (double v : orig) orig_energy += v * v;
  for (std::size_t c = 0; c < C; ++c) {
    for (std::size_t p = 0; p < P; ++p) dc_energy += orig[c * B * P + p] * orig[c * B * P + p];
  }

  SpexRecovery res;
  const Peeled found = peel(pb, bins, thresholds(noise_sd, opt.noise_z, orig_energy, pb), opt, res);
  res.peeled = found.supports.size();
  double left = 0.0;
  for (double v : bins) left += v * v;
  res.residual_fraction = (orig_energy - dc_energy) > 0 ? left / (orig_energy - dc_energy) : 0.0;

  std::vector<Support> support;
  double rss_over_B = 0.0;
  const std::vector<double> beta =
      refit_and_prune(pb, found, orig, opt, total, support, rss_over_B, res);
  // Back to the outputs' units.
  res.tss = st.sq;
  res.rss = rss_over_B * static_cast<double>(B) * st.scale * st.scale;
  res.noise_sd_estimate = std::sqrt(noise_variance(rss_over_B, B, total, support.size())) * st.scale;
  res.indptr.assign(1, 0);
  for (std::size_t k = 0; k < support.size(); ++k) {
    for (std::uint32_t i : support[k]) res.indices.push_back(static_cast<std::int32_t>(i));
    res.indptr.push_back(static_cast<std::int64_t>(res.indices.size()));
    res.values.push_back(beta[k] * st.scale + (support[k].empty() ? st.mean : 0.0));
  }
  return res;
}

}  // namespace fastspex
