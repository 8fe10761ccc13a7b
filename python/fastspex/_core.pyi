"""
fastspex C++ core (private: use the fastspex package)
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['MemoryLimitError', 'bch_decode', 'bch_info', 'bernoulli', 'evaluate_set', 'exhaustive', 'fm_top_pairs', 'fwht', 'gf2_subsample', 'hardware_threads', 'index_transform', 'leave_k_out', 'mobius', 'pack', 'popcount', 'random_subsets', 'sparse_top_pairs', 'spex_delays', 'spex_recover', 'unique', 'unpack', 'zeta']
class MemoryLimitError(MemoryError):
    pass
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
def fm_top_pairs(V: numpy.typing.NDArray[numpy.float64], scale: typing.SupportsFloat | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, by: str, n_threads: typing.SupportsInt | typing.SupportsIndex = 0, simd: bool = True) -> tuple:
    """
    Top-k pairs i<j of scale * <V_i, V_j> (arrays i, j, score); simd=False forces the portable Eigen kernel.
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
def mobius(values: numpy.typing.NDArray[numpy.float64], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Möbius transform of a set function given on all 2^n masks.
    """
def pack(masks: numpy.typing.NDArray[numpy.uint8], n_threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.uint64]:
    """
    Pack a (m, n) uint8/bool matrix (nonzero = kept) into (m, ceil(n/64)) uint64 words.
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
def spex_recover(values: numpy.typing.NDArray[numpy.float64], hashes: numpy.typing.NDArray[numpy.uint64], n: typing.SupportsInt | typing.SupportsIndex, b: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, t: typing.SupportsInt | typing.SupportsIndex, max_order: typing.SupportsInt | typing.SupportsIndex, residual_ratio: typing.SupportsFloat | typing.SupportsIndex, noise_sd: typing.SupportsFloat | typing.SupportsIndex, noise_z: typing.SupportsFloat | typing.SupportsIndex, chase_bits: typing.SupportsInt | typing.SupportsIndex, max_candidates: typing.SupportsInt | typing.SupportsIndex, max_iter: typing.SupportsInt | typing.SupportsIndex, ridge: typing.SupportsFloat | typing.SupportsIndex, prune_z: typing.SupportsFloat | typing.SupportsIndex, complement: bool, n_threads: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    SPEX recovery from coded samples: (indptr, indices, values, stats).
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
hardware_threads: int = 2
