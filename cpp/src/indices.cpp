#include "fastspex/indices.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "fastspex/errors.hpp"
#include "fastspex/parallel.hpp"

namespace fastspex {
namespace {

using Quad = __float128;

Quad binom_q(std::size_t t, std::size_t s) {
  if (s > t) return 0;
  Quad out = 1;
  for (std::size_t a = 1; a <= s; ++a) {
    out = out * static_cast<Quad>(t - s + a) / static_cast<Quad>(a);
  }
  return out;
}

Quad pow_q(Quad base, std::size_t e) {
  Quad out = 1;
  for (std::size_t a = 0; a < e; ++a) out *= base;
  return out;
}

// Bernoulli numbers B_0..B_m (B_1 = -1/2) by the recurrence Σ_{j<=m} C(m+1, j) B_j = 0.
std::vector<Quad> bernoulli_q(std::size_t m) {
  std::vector<Quad> b(m + 1, 0);
  b[0] = 1;
  for (std::size_t r = 1; r <= m; ++r) {
    Quad acc = 0;
    for (std::size_t j = 0; j < r; ++j) acc += binom_q(r + 1, j) * b[j];
    b[r] = -acc / static_cast<Quad>(r + 1);
  }
  return b;
}

// Weight on Möbius coefficient a(T), |T| = t, for output S, |S| = s (s <= t).
Quad mobius_weight(IndexKind kind, int order, std::size_t s, std::size_t t) {
  const auto k = static_cast<std::size_t>(std::max(order, 0));
  const Quad sign_ks = ((k - std::min(k, s)) % 2 == 0) ? 1 : -1;
  switch (kind) {
    case IndexKind::Fourier:
      return (s % 2 == 0 ? 1 : -1) / pow_q(2, t);
    case IndexKind::Mobius:
      return s == t ? 1 : 0;
    case IndexKind::BII:
      return 1 / pow_q(2, t - s);
    case IndexKind::SII:
      return Quad(1) / static_cast<Quad>(t - s + 1);
    case IndexKind::Ablation:
      return 1;
    case IndexKind::STII:
      if (t <= k) return s == t ? 1 : 0;
      return s == k ? 1 / binom_q(t, k) : 0;
    case IndexKind::FSII:
      if (t <= k) return s == t ? 1 : 0;
      if (s > k) return 0;
      return sign_ks * static_cast<Quad>(s) / static_cast<Quad>(k + s) * binom_q(k, s) *
             binom_q(t - 1, k) / binom_q(t + k - 1, k + s);
    case IndexKind::FBII:
      if (t <= k) return s == t ? 1 : 0;
      if (s > k) return 0;
      return sign_ks / pow_q(2, t - s) * binom_q(t - s - 1, k - s);
    case IndexKind::KSII: {
      if (s == 0) return t == 0 ? 1 : 0;
      if (s > k) return 0;
      static const std::vector<Quad> bern = bernoulli_q(kMaxSupportOrder);
      Quad w = 0;
      for (std::size_t j = 0; j + s <= std::min(k, t); ++j) {
        w += binom_q(t - s, j) * bern[j] / static_cast<Quad>(t - s - j + 1);
      }
      return w;
    }
  }
  return 0;
}

}  // namespace

Basis parse_basis(const std::string& name) {
  if (name == "fourier") return Basis::Fourier;
  if (name == "mobius") return Basis::Mobius;
  throw std::invalid_argument("basis must be 'fourier' or 'mobius', got '" + name + "'");
}

IndexKind parse_index(const std::string& name) {
  if (name == "fourier") return IndexKind::Fourier;
  if (name == "mobius") return IndexKind::Mobius;
  if (name == "bii") return IndexKind::BII;
  if (name == "sii") return IndexKind::SII;
  if (name == "fbii") return IndexKind::FBII;
  if (name == "fsii") return IndexKind::FSII;
  if (name == "stii") return IndexKind::STII;
  if (name == "ablation") return IndexKind::Ablation;
  if (name == "ksii") return IndexKind::KSII;
  throw std::invalid_argument("unknown index '" + name +
                              "' (fourier, mobius, bii, sii, fbii, fsii, stii, ablation, ksii)");
}

std::uint64_t binomial_saturating(std::size_t t, std::size_t s) {
  if (s > t) return 0;
  s = std::min(s, t - s);
  const std::uint64_t cap = std::uint64_t{1} << 63;
  unsigned __int128 out = 1;
  for (std::size_t a = 1; a <= s; ++a) {
    out = out * (t - s + a) / a;  // exact: a product of a consecutive integers is divisible by a!
    if (out >= cap) return cap;
  }
  return static_cast<std::uint64_t>(out);
}

WeightTable index_weights(IndexKind kind, Basis input, int order, std::size_t max_t) {
  if (max_t > kMaxSupportOrder) {
    throw std::invalid_argument("a support has " + std::to_string(max_t) +
                                " components; interaction indices accept supports of at most " +
                                std::to_string(kMaxSupportOrder));
  }
  WeightTable table;
  table.max_t = max_t;
  table.w.assign((max_t + 1) * (max_t + 1), 0.0);
  for (std::size_t s = 0; s <= max_t; ++s) {
    for (std::size_t u = s; u <= max_t; ++u) {
      Quad w = 0;
      if (input == Basis::Mobius) {
        w = mobius_weight(kind, order, s, u);
      } else if (kind == IndexKind::Fourier) {
        w = s == u ? 1 : 0;  // identity, exactly
      } else {
        for (std::size_t t = s; t <= u; ++t) {
          const Quad m = mobius_weight(kind, order, s, t);
          if (m != 0) w += binom_q(u - s, t - s) * pow_q(-2, t) * m;
        }
      }
      table.w[s * (max_t + 1) + u] = static_cast<double>(w);
    }
  }
  return table;
}

void index_orders(IndexKind kind, int order, std::size_t* lo, std::size_t* hi) {
  *lo = 0;
  const bool needs_order = kind == IndexKind::FBII || kind == IndexKind::FSII ||
                           kind == IndexKind::STII || kind == IndexKind::KSII;
  if (needs_order && order < 1) {
    throw std::invalid_argument("fbii, fsii, stii and ksii need an order >= 1");
  }
  *hi = order < 0 ? kMaxSupportOrder : static_cast<std::size_t>(order);
}

SparseSet superset_map(const SparseSetView& in, const WeightTable& weights, std::size_t lo,
                       std::size_t hi, std::uint64_t max_terms, double tol) {
  // Count the terms first, so an expansion that would blow up fails before any work.
  std::uint64_t terms = 0;
  for (std::size_t k = 0; k < in.size; ++k) {
    const std::size_t t = in.order(k);
    for (std::size_t s = lo; s <= std::min(hi, t); ++s) {
      if (weights.at(s, t) == 0.0) continue;
      terms += binomial_saturating(t, s);
      if (terms > max_terms) {
        throw std::invalid_argument(
            "this conversion would expand the supports into more than max_terms = " +
            std::to_string(max_terms) +
            " subset terms (a support of size t has 2^t subsets); lower the order or raise "
            "max_terms");
      }
    }
  }
  SupportMap map(static_cast<std::size_t>(std::min<std::uint64_t>(terms, 1U << 20)));
  std::vector<std::size_t> pos;
  std::vector<std::int32_t> subset;
  for (std::size_t k = 0; k < in.size; ++k) {
    const std::size_t t = in.order(k);
    const std::int32_t* sup = in.support(k);
    const double value = in.values[k];
    if (value == 0.0) continue;
    for (std::size_t s = lo; s <= std::min(hi, t); ++s) {
      const double w = weights.at(s, t);
      if (w == 0.0) continue;
      const double contribution = w * value;
      // Enumerate s-subsets of the support in lexicographic order of positions.
      pos.resize(s);
      subset.resize(s);
      for (std::size_t a = 0; a < s; ++a) pos[a] = a;
      for (;;) {
        for (std::size_t a = 0; a < s; ++a) subset[a] = sup[pos[a]];
        map.add(subset.data(), s, contribution);
        // Advance to the next combination.
        std::size_t a = s;
        while (a > 0 && pos[a - 1] == t - s + (a - 1)) --a;
        if (a == 0) break;
        ++pos[a - 1];
        for (std::size_t b = a; b < s; ++b) pos[b] = pos[b - 1] + 1;
      }
    }
  }
  return map.to_set(in.n, tol);
}

SparseSet compute_index(const SparseSetView& in, Basis input, IndexKind kind, int order,
                        std::uint64_t max_terms, double tol) {
  std::size_t lo = 0;
  std::size_t hi = 0;
  index_orders(kind, order, &lo, &hi);
  const std::size_t max_t = in.max_order();
  const WeightTable weights = index_weights(kind, input, order, max_t);
  return superset_map(in, weights, lo, hi, max_terms, tol);
}

void evaluate_set(const SparseSetView& in, Basis basis, ConstBitRows masks, double* out,
                  int n_threads) {
  const bool fourier = basis == Basis::Fourier;
  parallel_for(0, masks.rows, 64, n_threads, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::uint64_t* x = masks.row(r);
      double acc = 0.0;
      for (std::size_t k = 0; k < in.size; ++k) {
        const std::int32_t* s = in.support(k);
        const std::size_t len = in.order(k);
        if (fourier) {
          unsigned parity = 0;
          for (std::size_t a = 0; a < len; ++a) {
            parity ^= static_cast<unsigned>(get_bit(x, static_cast<std::size_t>(s[a])));
          }
          acc += parity ? -in.values[k] : in.values[k];
        } else {
          bool all = true;
          for (std::size_t a = 0; a < len && all; ++a) {
            all = get_bit(x, static_cast<std::size_t>(s[a]));
          }
          if (all) acc += in.values[k];
        }
      }
      out[r] = acc;
    }
  });
}

}  // namespace fastspex
