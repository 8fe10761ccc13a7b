// Factorization-machine proxy on packed masks:
//   y ≈ w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j,
// fitted by coordinate-wise alternating least squares (Rendle, "Factorization Machines with
// libFM", 2012) with L2 penalties and early stopping on held-out rows. The sparse polynomial
// (lasso path) proxy lives in regression.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fastspex/bitmatrix.hpp"

namespace fastspex {

// Fit options. rank, init_std, max_epochs, patience and tol are the Python API's defaults
// (fastspex.proxies reads them from the bound _core.FmOptions); the Python wrapper chooses the
// penalties itself (by validation unless given) and passes init_std / sqrt(mean kept count).
struct FmOptions {
  std::size_t rank = 8;
  double l2_w = 1e-4;  // penalty on w, per sample: objective (1/m)Σe² + l2_w||w||² + l2_v||V||²
  double l2_v = 1e-4;
  double init_std = 0.5;  // standard deviation of the starting embeddings
  int max_epochs = 1000;
  int patience = 10;      // epochs without progress before stopping
  double tol = 1e-6;  // relative improvement of the monitored loss that counts as progress
  std::uint64_t seed = 0;
  int n_threads = 0;
};

struct FmResult {
  double w0 = 0.0;
  std::vector<double> w;       // n
  std::vector<double> V;       // n x rank, row-major
  std::vector<double> train_loss;  // per epoch (mean squared error)
  std::vector<double> val_loss;    // per epoch (empty without held-out rows)
  int best_epoch = 0;  // -1: no epoch beat the starting point on the held-out rows
};

// is_val[s] != 0 marks held-out rows (may be all zero: no early stopping).
FmResult fm_fit(ConstBitRows masks, const double* y, const std::uint8_t* is_val,
                const FmOptions& opt);

// FM predictions on packed masks.
void fm_predict(ConstBitRows masks, double w0, const double* w, const double* V,
                std::size_t rank, double* out, int n_threads);

}  // namespace fastspex
