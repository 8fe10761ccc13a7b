// In-place transforms of a function given on all 2^n masks (index r = mask with bit j = x_j).
// Used for exhaustive ground truth (n <= 24) and for SPEX's per-block transforms.
#pragma once
#include <cstddef>

namespace fastspex {

// values[r] <- sum_s (-1)^{popcount(r & s)} values[s]  (unnormalised Walsh-Hadamard).
void fwht_inplace(double* values, std::size_t log2_len, int n_threads);
// Möbius: values[S] <- sum_{T subset S} (-1)^{|S|-|T|} values[T].
void mobius_inplace(double* values, std::size_t log2_len, int n_threads);
// Inverse Möbius (zeta): values[S] <- sum_{T subset S} values[T].
void zeta_inplace(double* values, std::size_t log2_len, int n_threads);

}  // namespace fastspex
