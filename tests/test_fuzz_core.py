"""Property-based fuzzing of fastspex._core.

(a) Property fuzzers: each binding on random valid inputs equals a NumPy reference.
(b) A generic garbage fuzzer (tests/_fuzz_worker.py) that discovers every callable of ``_core`` at
    run time and calls it with garbage in a subprocess; only Python exceptions may come out — a
    crash is a test failure that names the offending call.

Sizes: the ``ci`` profile (default) keeps the whole file to ~1 minute; set
``FASTSPEX_FUZZ_PROFILE=big`` for a long local run. The number of cases run is printed at the end.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from itertools import combinations
from math import comb
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastspex import _core

PROFILE = os.environ.get("FASTSPEX_FUZZ_PROFILE", "ci")
if PROFILE not in ("ci", "big"):
    raise ValueError(f"FASTSPEX_FUZZ_PROFILE must be 'ci' or 'big', got {PROFILE!r}")
EXAMPLES = {"ci": 40, "big": 1000}[PROFILE]  # per property
GARBAGE_EXAMPLES = {"ci": 150, "big": 3000}[PROFILE]  # per discovered callable
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WORKER = Path(__file__).with_name("_fuzz_worker.py")
COUNTS = {"property": 0, "garbage": 0}


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Prints how many fuzz cases ran (past pytest's output capture)."""
    yield
    total = COUNTS["property"] + COUNTS["garbage"]
    line = (
        f"fuzz cases run ({PROFILE} profile): {COUNTS['property']} property + "
        f"{COUNTS['garbage']} garbage = {total}"
    )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print("\n" + line)


def count() -> None:
    COUNTS["property"] += 1


# ---- references -------------------------------------------------------------------------------


def ref_pack(b: np.ndarray) -> np.ndarray:
    m, n = b.shape
    w = (n + 63) // 64
    padded = np.zeros((m, w * 64), np.uint8)
    padded[:, :n] = b != 0
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").reshape(m, w)


def ref_bits(words: np.ndarray, n: int) -> np.ndarray:
    bits = np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=1, bitorder="little")
    return bits[:, :n].astype(bool)


def ref_fwht(v: np.ndarray) -> np.ndarray:
    h = np.array([[1.0]])
    while h.shape[0] < len(v):
        h = np.block([[h, h], [h, -h]])
    return h @ v


def subset_matrix(n: int) -> np.ndarray:
    """Z[x, s] = 1 if s ⊆ x."""
    x = np.arange(1 << n)
    return ((x[:, None] & x[None, :]) == x[None, :]).astype(float)


def random_csr(data: st.DataObject, n: int, max_terms: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    supports = data.draw(
        st.lists(st.frozensets(st.integers(0, n - 1), max_size=min(n, 4)), max_size=max_terms, unique=True)
    )
    supports = sorted((sorted(s) for s in supports), key=lambda s: (len(s), s))
    values = data.draw(hnp.arrays(np.float64, len(supports), elements=st.floats(-4, 4)))
    indptr = np.zeros(len(supports) + 1, np.int64)
    indptr[1:] = np.cumsum([len(s) for s in supports])
    indices = np.array([i for s in supports for i in s], np.int32)
    return indptr, indices, values


def ref_evaluate(indptr, indices, values, basis: str, masks: np.ndarray) -> np.ndarray:
    out = np.zeros(len(masks))
    for k in range(len(values)):
        s = indices[indptr[k] : indptr[k + 1]]
        if basis == "fourier":
            out += values[k] * (-1.0) ** (masks[:, s].sum(axis=1))
        else:
            out += values[k] * masks[:, s].all(axis=1)
    return out


bool_masks = st.integers(1, 150).flatmap(
    lambda n: hnp.arrays(np.bool_, st.tuples(st.integers(0, 20), st.just(n)))
)
threads = st.sampled_from([0, 1, 2, 3])


# ---- (a) property fuzzers ---------------------------------------------------------------------


@FUZZ
@given(b=bool_masks, t=threads)
def test_pack_unpack_popcount_unique(b: np.ndarray, t: int) -> None:
    count()
    n = b.shape[1]
    words = _core.pack(b.view(np.uint8), t)
    np.testing.assert_array_equal(words, ref_pack(b))
    np.testing.assert_array_equal(_core.unpack(words, n, t), b)
    np.testing.assert_array_equal(_core.popcount(words, n, t), b.sum(axis=1))
    first, inverse = _core.unique(words, n, t)
    assert len(set(map(bytes, b))) == len(first)
    np.testing.assert_array_equal(words[first][inverse], words)
    assert all(first[inverse[r]] <= r for r in range(len(b)))  # first occurrences


@FUZZ
@given(
    m=st.integers(0, 30), n=st.integers(1, 130), p=st.floats(0, 1), seed=st.integers(0, 2**64 - 1), t=threads
)
def test_bernoulli(m: int, n: int, p: float, seed: int, t: int) -> None:
    count()
    words = _core.bernoulli(m, n, p, seed, t)
    assert words.shape == (m, (n + 63) // 64)
    np.testing.assert_array_equal(ref_pack(ref_bits(words, n)), words)  # padding bits clear
    np.testing.assert_array_equal(_core.bernoulli(m, n, p, seed, 1), words)  # thread-independent
    if p == 0.0:
        assert not words.any()
    if p == 1.0:
        assert ref_bits(words, n).all()


@FUZZ
@given(data=st.data(), m=st.integers(0, 30), n=st.integers(1, 130), kept=st.booleans(), seed=st.integers(0, 2**32), t=threads)
def test_random_subsets(data: st.DataObject, m: int, n: int, kept: bool, seed: int, t: int) -> None:
    count()
    k_min = data.draw(st.integers(0, n))
    k_max = data.draw(st.integers(k_min, n))
    words = _core.random_subsets(m, n, k_min, k_max, kept, seed, t)
    counted = ref_bits(words, n).sum(axis=1)
    if not kept:
        counted = n - counted
    assert ((counted >= k_min) & (counted <= k_max)).all()
    np.testing.assert_array_equal(ref_pack(ref_bits(words, n)), words)


@FUZZ
@given(data=st.data(), n=st.integers(1, 70), t=threads)
def test_leave_k_out(data: st.DataObject, n: int, t: int) -> None:
    count()
    cap = min(n, 3 if n <= 20 else 2)  # keeps the reference's combinations small
    k_min = data.draw(st.integers(0, cap))
    k_max = data.draw(st.integers(k_min, cap))
    got = ref_bits(_core.leave_k_out(n, k_min, k_max, t), n)
    want = set()
    for k in range(k_min, k_max + 1):
        for out in combinations(range(n), k):
            row = np.ones(n, bool)
            row[list(out)] = False
            want.add(row.tobytes())
    assert len(got) == sum(comb(n, k) for k in range(k_min, k_max + 1))
    assert {r.tobytes() for r in got} == want


@FUZZ
@given(n=st.integers(1, 12), t=threads)
def test_exhaustive(n: int, t: int) -> None:
    count()
    got = ref_bits(_core.exhaustive(n, t), n)
    want = (np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1
    np.testing.assert_array_equal(got, want.astype(bool))


@FUZZ
@given(data=st.data(), n=st.integers(1, 100), t=threads)
def test_gf2_subsample(data: st.DataObject, n: int, t: int) -> None:
    count()
    b = data.draw(st.integers(0, min(n, 6)))
    H = data.draw(hnp.arrays(np.bool_, (b, n)))
    D = data.draw(hnp.arrays(np.bool_, (data.draw(st.integers(1, 4)), n)))
    got = ref_bits(_core.gf2_subsample(ref_pack(H), ref_pack(D), n, t), n)
    block = 1 << b
    assert got.shape == (block * len(D), n)
    for p, d in enumerate(D):
        for ell in range(block):
            sel = [(ell >> i) & 1 for i in range(b)]
            want = (np.array(sel, int) @ H.astype(int)) % 2 if b else np.zeros(n, int)
            np.testing.assert_array_equal(got[p * block + ell], want.astype(bool) ^ d)


@FUZZ
@given(v=st.integers(0, 9).flatmap(lambda n: hnp.arrays(np.float64, 1 << n, elements=st.floats(-1e6, 1e6))), t=threads)
def test_dense_transforms(v: np.ndarray, t: int) -> None:
    count()
    n = int(np.log2(len(v)))
    np.testing.assert_allclose(_core.fwht(v, t), ref_fwht(v), rtol=1e-9, atol=1e-6)
    Z = subset_matrix(n)
    np.testing.assert_allclose(_core.zeta(v, t), Z @ v, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(_core.zeta(_core.mobius(v, t), t), v, rtol=1e-9, atol=1e-6)


@FUZZ
@given(data=st.data(), n=st.integers(1, 80), basis=st.sampled_from(["fourier", "mobius"]), t=threads)
def test_evaluate_set_and_basis_round_trip(data: st.DataObject, n: int, basis: str, t: int) -> None:
    count()
    indptr, indices, values = random_csr(data, n)
    masks = data.draw(hnp.arrays(np.bool_, (data.draw(st.integers(0, 12)), n)))
    got = _core.evaluate_set(indptr, indices, values, n, basis, ref_pack(masks), t)
    np.testing.assert_allclose(got, ref_evaluate(indptr, indices, values, basis, masks), atol=1e-9)
    other = "mobius" if basis == "fourier" else "fourier"
    p2, i2, v2 = _core.index_transform(indptr, indices, values, n, basis, other, -1, 2**40, 0.0)
    np.testing.assert_allclose(
        _core.evaluate_set(p2, i2, v2, n, other, ref_pack(masks), t),
        ref_evaluate(indptr, indices, values, basis, masks),
        atol=1e-9,
    )


@FUZZ
@given(
    V=st.tuples(st.integers(2, 40), st.integers(1, 5)).flatmap(
        lambda s: hnp.arrays(np.float64, s, elements=st.floats(-3, 3))
    ),
    scale=st.floats(0.1, 4),
    by=st.sampled_from(["largest", "smallest", "magnitude"]),
    simd=st.booleans(),
    data=st.data(),
)
def test_fm_top_pairs(V: np.ndarray, scale: float, by: str, simd: bool, data: st.DataObject) -> None:
    count()
    n = len(V)
    k = data.draw(st.integers(1, n * (n - 1) // 2))
    i, j, s = _core.fm_top_pairs(V, scale, k, by, 0, simd)
    P = scale * (V @ V.T)
    iu, ju = np.triu_indices(n, 1)
    key = {"largest": P[iu, ju], "smallest": -P[iu, ju], "magnitude": np.abs(P[iu, ju])}[by]
    assert len(i) == k and (i < j).all()
    np.testing.assert_allclose(s, P[i, j], rtol=1e-9, atol=1e-9)
    got_key = {"largest": s, "smallest": -s, "magnitude": np.abs(s)}[by]
    np.testing.assert_allclose(np.sort(got_key)[::-1], np.sort(key)[::-1][:k], rtol=1e-9, atol=1e-9)


@FUZZ
@given(data=st.data(), n=st.integers(2, 40), basis=st.sampled_from(["fourier", "mobius"]))
def test_sparse_top_pairs_equal_pair_coefficients(data: st.DataObject, n: int, basis: str) -> None:
    count()
    indptr, indices, values = random_csr(data, n)
    # The Möbius pair index of the set: its order-2 Möbius coefficients, ranked by magnitude.
    p2, i2, v2 = _core.index_transform(indptr, indices, values, n, basis, "mobius", -1, 2**40, -1.0)
    P = np.zeros((n, n))
    for q in range(len(v2)):
        s = i2[p2[q] : p2[q + 1]]
        if len(s) == 2:
            P[s[0], s[1]] = v2[q]
    k = data.draw(st.integers(1, n * (n - 1) // 2))
    i, j, s = _core.sparse_top_pairs(indptr, indices, values, n, basis, "mobius", -1, k, "magnitude")
    assert len(i) == k and (i < j).all()
    np.testing.assert_allclose(s, P[i, j], atol=1e-9)
    iu, ju = np.triu_indices(n, 1)
    want = np.sort(np.abs(P[iu, ju]))[::-1][:k]
    np.testing.assert_allclose(np.sort(np.abs(s))[::-1], want, atol=1e-9)


# ---- (b) generic garbage fuzzer ---------------------------------------------------------------


def run_worker(tmp_path: Path, examples: int, seed: int, names: list[str] | None = None) -> dict:
    log = tmp_path / "case.pkl"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(WORKER), str(log), str(examples), str(seed), *(names or [])]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"garbage fuzzer hung; last case: {last_case(log)}") from err
    if proc.returncode != 0:
        raise AssertionError(
            f"garbage fuzzer process died (exit {proc.returncode}) on {last_case(log)}\n"
            f"stderr (faulthandler):\n{proc.stderr[-4000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def last_case(log: Path) -> str:
    try:
        name, args = pickle.loads(log.read_bytes())
    except Exception as err:  # noqa: BLE001 - the log itself may be cut short by the crash
        return f"<no readable case log: {err}>"
    shown = [
        f"array(shape={a.shape}, dtype={a.dtype}, values={a.ravel()[:8].tolist()})" if isinstance(a, np.ndarray) else repr(a)
        for a in args
    ]
    return f"_core.{name}({', '.join(shown)})"


@pytest.mark.slow
def test_garbage_never_crashes_any_core_callable(tmp_path: Path) -> None:
    result = run_worker(tmp_path, GARBAGE_EXAMPLES, seed=20260101)
    COUNTS["garbage"] += result["cases"]
    public = sorted(k for k in dir(_core) if not k.startswith("_") and callable(getattr(_core, k)))
    public = [k for k in public if not (isinstance(getattr(_core, k), type) and issubclass(getattr(_core, k), BaseException))]
    assert result["functions"] == public  # every binding, including ones added after this file
    assert result["failures"] == []
    for name, outcome in result["outcomes"].items():
        assert sum(outcome.values()) > 0, (name, outcome)


def test_the_fuzzer_would_notice_a_crash(tmp_path: Path) -> None:
    """The harness itself: a process killed mid-case is reported with the case it ran."""
    log = tmp_path / "case.pkl"
    log.write_bytes(pickle.dumps(("pack", [np.zeros((2, 3), np.uint8), 1])))
    text = last_case(log)
    assert text.startswith("_core.pack(array(shape=(2, 3)")
    crash = subprocess.run(
        [sys.executable, "-c", "import faulthandler, ctypes; faulthandler.enable(); ctypes.string_at(0)"],
        capture_output=True,
        text=True,
    )
    assert crash.returncode != 0 and "Fatal Python error" in crash.stderr


def test_huge_thread_counts_are_clamped_and_refused_threads_do_not_abort() -> None:
    """Found by the garbage fuzzer: n_threads=10**5 spawned one thread per chunk until the system
    refused one, and the refusal aborted the process. Now requests are clamped to 256 threads and
    a refused thread only means fewer workers; under a 1 GiB address-space cap some are refused."""
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "import numpy as np; from fastspex import _core\n"
        "w = np.zeros((200_000, 1), np.uint64); w[::3] = 1\n"
        "ip = np.array([0, 1], np.int64); ix = np.array([0], np.int32); v = np.array([2.0])\n"
        "out = _core.evaluate_set(ip, ix, v, 3, 'fourier', w, 10**5)\n"
        "assert (out == np.where(np.arange(200_000) % 3 == 0, -2.0, 2.0)).all()\n"
        "V = np.random.default_rng(0).normal(size=(3000, 4))\n"
        "i, j, s = _core.fm_top_pairs(V, 1.0, 10, 'largest', 2**31 - 1, True)\n"
        "assert len(i) == 10\n"
        "print('ok')\n"
    )
    if os.environ.get("FASTSPEX_SANITIZED") == "1":
        pytest.skip("an address-space cap cannot be combined with ASan's shadow memory")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
    count()
