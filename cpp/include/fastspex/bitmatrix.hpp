// Packed bit matrices: one mask per row, bit j of a row at word j/64, bit j%64 (LSB first).
// Bits past n in the last word of a row are always zero, so rows compare and hash as words.
// Kernels take non-owning views over memory the caller owns (a NumPy array in practice), which
// makes the conversion to and from NumPy zero-copy for the packed form.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastspex {

inline std::size_t words_for(std::size_t n) { return (n + 63) / 64; }

// Mask selecting the valid bits of a row's last word.
inline std::uint64_t tail_mask(std::size_t n) {
  const std::size_t r = n % 64;
  return r == 0 ? ~std::uint64_t{0} : ((std::uint64_t{1} << r) - 1);
}

struct BitRows {
  std::uint64_t* data;
  std::size_t rows;
  std::size_t n;  // bits per row (components)
  std::size_t words() const { return words_for(n); }
  std::uint64_t* row(std::size_t i) const { return data + i * words(); }
};

struct ConstBitRows {
  const std::uint64_t* data;
  std::size_t rows;
  std::size_t n;
  std::size_t words() const { return words_for(n); }
  const std::uint64_t* row(std::size_t i) const { return data + i * words(); }
};

inline bool get_bit(const std::uint64_t* row, std::size_t j) {
  return (row[j >> 6] >> (j & 63)) & 1U;
}
inline void set_bit(std::uint64_t* row, std::size_t j) { row[j >> 6] |= std::uint64_t{1} << (j & 63); }
inline void clear_bit(std::uint64_t* row, std::size_t j) {
  row[j >> 6] &= ~(std::uint64_t{1} << (j & 63));
}

// Sets every valid bit of a row to `value`, keeping padding bits zero.
void fill_row(std::uint64_t* row, std::size_t n, bool value);

// Packs a row-major (rows x n) byte matrix (nonzero = 1) into `out` (out.rows == rows).
void pack_bytes(const std::uint8_t* bytes, BitRows out, int n_threads);
// Unpacks into a row-major (rows x n) byte matrix of 0/1.
void unpack_bytes(ConstBitRows in, std::uint8_t* bytes, int n_threads);
// Number of set bits of each row.
void row_popcounts(ConstBitRows in, std::int64_t* counts, int n_threads);
// Throws std::invalid_argument if any padding bit is set (a corrupted or foreign buffer).
void check_padding(ConstBitRows in);

}  // namespace fastspex
