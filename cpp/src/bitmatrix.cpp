#include "fastspex/bitmatrix.hpp"

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fastspex/parallel.hpp"

namespace fastspex {
namespace {

constexpr std::size_t kRowGrain = 512;
constexpr std::uint64_t kLowBits = 0x0101010101010101ULL;
// Multiplying eight 0/1 bytes by this gathers byte i into bit 56+i (no two partial products
// share a bit position, so there are no carries).
constexpr std::uint64_t kGather = 0x0102040810204080ULL;

// Eight bytes -> eight bits, any nonzero byte counting as 1.
inline std::uint64_t gather8(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  v |= v >> 4;
  v |= v >> 2;
  v |= v >> 1;
  return ((v & kLowBits) * kGather) >> 56;
}

// spread[b] holds the eight bits of b as eight 0/1 bytes.
const std::array<std::uint64_t, 256>& spread_table() {
  static const std::array<std::uint64_t, 256> table = [] {
    std::array<std::uint64_t, 256> t{};
    for (unsigned b = 0; b < 256; ++b) {
      std::uint64_t v = 0;
      for (unsigned i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>((b >> i) & 1U) << (8 * i);
      t[b] = v;
    }
    return t;
  }();
  return table;
}

}  // namespace

void fill_row(std::uint64_t* row, std::size_t n, bool value) {
  const std::size_t w = words_for(n);
  if (w == 0) return;
  const std::uint64_t word = value ? ~std::uint64_t{0} : 0;
  for (std::size_t k = 0; k < w; ++k) row[k] = word;
  row[w - 1] &= tail_mask(n);
}

void pack_bytes(const std::uint8_t* bytes, BitRows out, int n_threads) {
  const std::size_t n = out.n;
  const std::size_t w = out.words();
  parallel_for(0, out.rows, kRowGrain, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) {
      const std::uint8_t* src = bytes + i * n;
      std::uint64_t* dst = out.row(i);
      for (std::size_t k = 0; k < w; ++k) {
        const std::size_t start = k * 64;
        const std::size_t len = (n - start < 64) ? n - start : 64;
        std::uint64_t word = 0;
        std::size_t j = 0;
        for (; j + 8 <= len; j += 8) word |= gather8(src + start + j) << j;
        for (; j < len; ++j) word |= static_cast<std::uint64_t>(src[start + j] != 0) << j;
        dst[k] = word;
      }
    }
  });
}

void unpack_bytes(ConstBitRows in, std::uint8_t* bytes, int n_threads) {
  const std::size_t n = in.n;
  const std::size_t w = in.words();
  const auto& spread = spread_table();
  parallel_for(0, in.rows, kRowGrain, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) {
      const std::uint64_t* src = in.row(i);
      std::uint8_t* dst = bytes + i * n;
      for (std::size_t k = 0; k < w; ++k) {
        const std::size_t start = k * 64;
        const std::size_t len = (n - start < 64) ? n - start : 64;
        std::uint64_t word = src[k];
        std::size_t j = 0;
        for (; j + 8 <= len; j += 8) {
          std::memcpy(dst + start + j, &spread[(word >> j) & 0xFFU], 8);
        }
        for (; j < len; ++j) dst[start + j] = static_cast<std::uint8_t>((word >> j) & 1U);
      }
    }
  });
}

void row_popcounts(ConstBitRows in, std::int64_t* counts, int n_threads) {
  const std::size_t w = in.words();
  parallel_for(0, in.rows, kRowGrain * 8, n_threads, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; ++i) {
      const std::uint64_t* r = in.row(i);
      std::int64_t c = 0;
      for (std::size_t k = 0; k < w; ++k) c += __builtin_popcountll(r[k]);
      counts[i] = c;
    }
  });
}

void check_padding(ConstBitRows in) {
  const std::size_t w = in.words();
  if (w == 0) return;
  const std::uint64_t pad = ~tail_mask(in.n);
  if (pad == 0) return;
  for (std::size_t i = 0; i < in.rows; ++i) {
    if (in.row(i)[w - 1] & pad) {
      throw std::invalid_argument("packed masks: row " + std::to_string(i) +
                                  " has bits set beyond n = " + std::to_string(in.n));
    }
  }
}

}  // namespace fastspex
