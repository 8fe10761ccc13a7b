"""
fastspex C++ core (private: use the fastspex package)
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['FmOptions', 'MemoryLimitError', 'PathOptions', 'SPEX_MAX_B', 'SpexOptions', 'bch_decode', 'bch_info', 'bernoulli', 'evaluate_set', 'exhaustive', 'fm_fit', 'fm_predict', 'fm_top_pairs', 'fwht', 'gf2_subsample', 'hardware_threads', 'index_transform', 'leave_k_out', 'measured_fma_rate', 'mobius', 'pack', 'poly_cv_mse', 'poly_path', 'poly_refit', 'popcount', 'random_subsets', 'sparse_top_pairs', 'spex_delays', 'spex_recover', 'trees_to_fourier', 'unique', 'unpack', 'zeta']
class MemoryLimitError(MemoryError):
    pass
class PathOptions:
    """
    The elastic-net path's options with their defaults (read-only; the poly_* functions take them as keyword arguments).
    """
    def __init__(self) -> None:
        ...
    @property
    def l1_ratio(self) -> float:
        """
        rho in (0, 1]; 1 is the lasso
        """
    @property
    def max_features(self) -> int:
        """
        stop the path once more terms are active (0: no limit)
        """
    @property
    def max_sweeps(self) -> int:
        """
        coordinate sweeps per penalty
        """
    @property
    def n_threads(self) -> int:
        """
        threads (0: all cores)
        """
    @property
    def pool(self) -> int:
        """
        scanned pairs kept with their gradient (0: automatic)
        """
    @property
    def scan_pairs(self) -> bool:
        """
        candidates: all mains and all pairs (else the given terms)
        """
    @property
    def tol(self) -> float:
        """
        a solve stops when max_j G_jj d_j^2 < tol * ||y - mean||^2
        """
class FmOptions:
    """
    The factorization machine's options with their defaults (read-only; fm_fit takes them as keyword arguments).
    """
    def __init__(self) -> None:
        ...
    @property
    def init_std(self) -> float:
        """
        standard deviation of the starting embeddings
        """
    @property
    def l2_v(self) -> float:
        """
        penalty on the embeddings, per sample
        """
    @property
    def l2_w(self) -> float:
        """
        penalty on the main effects, per sample
        """
    @property
    def max_epochs(self) -> int:
        """
        most ALS epochs
        """
    @property
    def n_threads(self) -> int:
        """
        threads (0: all cores)
        """
    @property
    def patience(self) -> int:
        """
        epochs without progress before stopping
        """
    @property
    def rank(self) -> int:
        """
        embedding dimension
        """
    @property
    def seed(self) -> int:
        """
        seeds the starting embeddings
        """
    @property
    def tol(self) -> float:
        """
        relative improvement of the monitored loss that counts as progress
        """
class SpexOptions:
    """
    SPEX recovery options with their defaults (read-only; spex_recover takes them as keyword arguments).
    """
    def __init__(self) -> None:
        ...
    @property
    def chase_bits(self) -> int:
        """
        soft decoding: least reliable measured bits tried flipped
        """
    @property
    def complement(self) -> bool:
        """
        masks were complemented (all-kept mask at row 0)
        """
    @property
    def max_candidates(self) -> int:
        """
        soft decoding: most flip patterns tried per bin
        """
    @property
    def max_iter(self) -> int:
        """
        peeling rounds
        """
    @property
    def max_order(self) -> int:
        """
        largest support size accepted (degree bound)
        """
    @property
    def n_threads(self) -> int:
        """
        threads (0: all cores)
        """
    @property
    def noise_sd(self) -> float:
        """
        per-call output noise (units of the values); < 0: unknown
        """
    @property
    def noise_z(self) -> float:
        """
        with a known noise: energy and significance margins, in standard deviations
        """
    @property
    def prune_z(self) -> float:
        """
        the refit drops terms within prune_z standard errors of zero
        """
    @property
    def residual_ratio(self) -> float:
        """
        a bin is a singleton if its residual energy is at most this fraction of it
        """
    @property
    def ridge(self) -> float:
        """
        ridge penalty of the refit (relative to C*P)
        """
def bch_decode(n: typing.SupportsInt | typing.SupportsIndex, t: typing.SupportsInt | typing.SupportsIndex, bits: numpy.typing.NDArray[numpy.uint8]) -> list[tuple[bool, list[int], list[int]]]:
    """
    Decode rows of measured syndrome bits: (ok, components, flipped bits) per row.
    """
def bch_info(n: typing.SupportsInt | typing.SupportsIndex, t: typing.SupportsInt | typing.SupportsIndex) -> dict:
    """
    Facts of the shortest t-error-correcting binary BCH code with n information positions.
    """
def bernoulli(m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, p: typing.SupportsFloat | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.uint64]:
    """
    m masks, each component kept independently with probability p.
    """
def evaluate_set(indptr: numpy.typing.NDArray[numpy.int64], indices: numpy.typing.NDArray[numpy.int32], values: numpy.typing.NDArray[numpy.float64], n: typing.SupportsInt | typing.SupportsIndex, basis: str, words: numpy.typing.NDArray[numpy.uint64], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Value of a sparse expansion on each packed mask.
    """
def exhaustive(n: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.uint64]:
    """
    All 2^n masks; row r keeps component j iff bit j of r is set.
    """
def fm_fit(words: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, y: numpy.typing.NDArray[numpy.float64], is_val: numpy.typing.NDArray[numpy.uint8], rank: typing.SupportsInt | typing.SupportsIndex = 8, l2_w: typing.SupportsFloat | typing.SupportsIndex = 0.0001, l2_v: typing.SupportsFloat | typing.SupportsIndex = 0.0001, init_std: typing.SupportsFloat | typing.SupportsIndex = 0.5, max_epochs: typing.SupportsInt | typing.SupportsIndex = 1000, patience: typing.SupportsInt | typing.SupportsIndex = 10, tol: typing.SupportsFloat | typing.SupportsIndex = 1e-06, seed: typing.SupportsInt | typing.SupportsIndex = 0, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> dict:
    """
    Factorization machine fitted by ALS with early stopping.
    """
def fm_predict(words: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, w0: typing.SupportsFloat | typing.SupportsIndex, w: numpy.typing.NDArray[numpy.float64], V: numpy.typing.NDArray[numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Factorization-machine predictions on packed masks.
    """
def fm_top_pairs(V: numpy.typing.NDArray[numpy.float64], scale: typing.SupportsFloat | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, by: str, n_threads: typing.SupportsInt | typing.SupportsIndex = 0, simd: bool = True, mixed: bool = True) -> tuple:
    """
    Top-k pairs i<j of scale * <V_i, V_j> (arrays i, j, score); simd=False forces the portable Eigen kernel; mixed=False keeps the double-precision tiles (mixed: float tiles, candidates re-scored in double).
    """
def fwht(values: numpy.typing.NDArray[numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Unnormalised Walsh-Hadamard transform of 2^n values.
    """
def gf2_subsample(h: numpy.typing.NDArray[numpy.uint64], delays: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.uint64]:
    """
    Rows (H^T l) XOR d for every delay d and every l in {0,1}^b.
    """
def index_transform(indptr: numpy.typing.NDArray[numpy.int64], indices: numpy.typing.NDArray[numpy.int32], values: numpy.typing.NDArray[numpy.float64], n: typing.SupportsInt | typing.SupportsIndex, basis: str, index: str, order: typing.SupportsInt | typing.SupportsIndex, max_terms: typing.SupportsInt | typing.SupportsIndex, tol: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> tuple:
    """
    Interaction index (or change of basis) of a sparse set, as CSR arrays (supports sorted by size, then lexicographically).
    """
def leave_k_out(n: typing.SupportsInt | typing.SupportsIndex, k_min: typing.SupportsInt | typing.SupportsIndex, k_max: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.uint64]:
    """
    Every subset of k_min..k_max components ablated from the full input.
    """
def measured_fma_rate(seconds: typing.SupportsFloat | typing.SupportsIndex = 0.5, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> float:
    """
    Single-precision lane FMAs per second on n_threads threads (AVX2 register loop); 0 without AVX2/FMA.
    """
def mobius(values: numpy.typing.NDArray[numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Möbius transform of a set function given on all 2^n masks.
    """
def pack(masks: numpy.typing.NDArray[numpy.uint8], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.uint64]:
    """
    Pack a (m, n) uint8/bool matrix (nonzero = kept) into (m, ceil(n/64)) uint64 words.
    """
def poly_cv_mse(words: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, y: numpy.typing.NDArray[numpy.float64], terms_a: numpy.typing.NDArray[numpy.int32], terms_b: numpy.typing.NDArray[numpy.int32], alphas: numpy.typing.NDArray[numpy.float64], fold_of: numpy.typing.NDArray[numpy.int32], folds: typing.SupportsInt | typing.SupportsIndex, relaxed_ridge: typing.SupportsFloat | typing.SupportsIndex, l1_ratio: typing.SupportsFloat | typing.SupportsIndex = 1.0, tol: typing.SupportsFloat | typing.SupportsIndex = 1e-09, max_sweeps: typing.SupportsInt | typing.SupportsIndex = 100000, max_features: typing.SupportsInt | typing.SupportsIndex = 0, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Held-out MSE (folds x alphas) of the elastic-net path on the given terms (of the
    least-squares refit of each support when relaxed_ridge >= 0).
    """
def poly_path(words: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, y: numpy.typing.NDArray[numpy.float64], terms_a: numpy.typing.NDArray[numpy.int32], terms_b: numpy.typing.NDArray[numpy.int32], scan_pairs: bool, alphas: numpy.typing.NDArray[numpy.float64], n_alphas: typing.SupportsInt | typing.SupportsIndex, eps: typing.SupportsFloat | typing.SupportsIndex, l1_ratio: typing.SupportsFloat | typing.SupportsIndex = 1.0, tol: typing.SupportsFloat | typing.SupportsIndex = 1e-09, max_sweeps: typing.SupportsInt | typing.SupportsIndex = 100000, max_features: typing.SupportsInt | typing.SupportsIndex = 0, pool: typing.SupportsInt | typing.SupportsIndex = 0, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> dict:
    """
    Elastic-net path over main effects and pair products of packed masks.
    """
def poly_refit(words: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, y: numpy.typing.NDArray[numpy.float64], terms_a: numpy.typing.NDArray[numpy.int32], terms_b: numpy.typing.NDArray[numpy.int32], ridge: typing.SupportsFloat | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple:
    """
    Least-squares refit of y on the given terms: (intercept, coefficients, rss, diagonal of
    the inverse centred Gram, empty if singular).
    """
def popcount(words: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.int64]:
    """
    Number of kept components in each packed mask.
    """
def random_subsets(m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k_min: typing.SupportsInt | typing.SupportsIndex, k_max: typing.SupportsInt | typing.SupportsIndex, count_kept: bool, seed: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.uint64]:
    """
    m masks ablating (or keeping) k components, k uniform in [k_min, k_max].
    """
def sparse_top_pairs(indptr: numpy.typing.NDArray[numpy.int64], indices: numpy.typing.NDArray[numpy.int32], values: numpy.typing.NDArray[numpy.float64], n: typing.SupportsInt | typing.SupportsIndex, basis: str, index: str, order: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, by: str, n_threads: typing.SupportsInt | typing.SupportsIndex = 0, max_terms: typing.SupportsInt | typing.SupportsIndex = 67108864) -> tuple:
    """
    Top-k pairs i<j of a pair index of a sparse set (arrays i, j, score).
    """
def spex_delays(n: typing.SupportsInt | typing.SupportsIndex, t: typing.SupportsInt | typing.SupportsIndex, complement: bool) -> numpy.typing.NDArray[numpy.uint64]:
    """
    SPEX delay rows (zero delay first), packed.
    """
def spex_recover(values: numpy.typing.NDArray[numpy.float64], hashes: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, b: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, t: typing.SupportsInt | typing.SupportsIndex, max_order: typing.SupportsInt | typing.SupportsIndex = 5, residual_ratio: typing.SupportsFloat | typing.SupportsIndex = 0.4, noise_sd: typing.SupportsFloat | typing.SupportsIndex = -1.0, noise_z: typing.SupportsFloat | typing.SupportsIndex = 3.0, chase_bits: typing.SupportsInt | typing.SupportsIndex = 6, max_candidates: typing.SupportsInt | typing.SupportsIndex = 32, max_iter: typing.SupportsInt | typing.SupportsIndex = 64, ridge: typing.SupportsFloat | typing.SupportsIndex = 0.0, prune_z: typing.SupportsFloat | typing.SupportsIndex = 3.0, complement: bool = True, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple:
    """
    SPEX recovery from coded samples (b <= SPEX_MAX_B): (indptr, indices, values, stats).
    """
def trees_to_fourier(node_ptr: numpy.typing.NDArray[numpy.int64], leaf_ptr: numpy.typing.NDArray[numpy.int64], split_feature: numpy.typing.NDArray[numpy.int32], threshold: numpy.typing.NDArray[numpy.float64], decision_type: numpy.typing.NDArray[numpy.int32], left_child: numpy.typing.NDArray[numpy.int32], right_child: numpy.typing.NDArray[numpy.int32], leaf_value: numpy.typing.NDArray[numpy.float64], n: typing.SupportsInt | typing.SupportsIndex, top_k: typing.SupportsInt | typing.SupportsIndex = 0, tol: typing.SupportsFloat | typing.SupportsIndex = 0.0, max_terms: typing.SupportsInt | typing.SupportsIndex = 67108864, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple:
    """
    Exact Fourier coefficients of a tree ensemble on binary inputs, as CSR arrays (supports sorted by size, then lexicographically); top_k > 0 keeps the empty set and the top_k largest |values|.
    """
def unique(words: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple:
    """
    Indices of the first occurrence of each distinct row, and the inverse map.
    """
def unpack(words: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.bool]:
    """
    Unpack (m, ceil(n/64)) uint64 words into an (m, n) bool matrix.
    """
def zeta(values: numpy.typing.NDArray[numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Inverse Möbius (zeta) transform: sums over subsets.
    """
SPEX_MAX_B: int = 20
hardware_threads: int = 2
