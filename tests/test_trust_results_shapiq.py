"""shapiq export conventions and k-SII, checked against shapiq's ExactComputer.

The reference values come from shapiq's ``ExactComputer`` on all ``2ⁿ`` coalitions of a random
game; fastspex's values come from a brute-force Möbius transform of the same table (a plain
NumPy butterfly written here, independent of fastspex's transforms).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fastspex import indices
from fastspex.coefficients import Coefficients
from fastspex.interactions import Interactions

shapiq = pytest.importorskip("shapiq")
from shapiq.game_theory.exact import ExactComputer  # noqa: E402



def _game(seed: int, n: int) -> tuple[np.ndarray, object]:
    """A random game: table[r] is the value of the coalition keeping bit j of r."""
    table = np.random.default_rng(seed).normal(size=1 << n)
    weights = np.int64(1) << np.arange(n, dtype=np.int64)

    def game(coalitions: np.ndarray) -> np.ndarray:
        return table[(np.asarray(coalitions, np.int64) * weights).sum(axis=1)]

    return table, game


def _mobius(table: np.ndarray, n: int) -> Coefficients:
    """All 2ⁿ Möbius coefficients by the subset-difference butterfly (brute force)."""
    a = np.array(table, dtype=float)
    for j in range(n):
        r = np.arange(1 << n)
        hi = r[(r >> j) & 1 == 1]
        a[hi] -= a[hi ^ (1 << j)]
    sets = [tuple(j for j in range(n) if r >> j & 1) for r in range(1 << n)]
    return Coefficients.from_dict(dict(zip(sets, a)), n, "mobius")


def _same(ours, ref, *, tol: float = 1e-8) -> None:
    """Same index name, order, baseline value and values on every set."""
    assert ours.index == ref.index
    assert ours.max_order == ref.max_order
    assert ours.min_order == ref.min_order
    assert ours.n_players == ref.n_players
    assert float(ours.baseline_value) == pytest.approx(float(ref.baseline_value), abs=tol)
    for s in set(ref.interaction_lookup) | set(ours.interaction_lookup):
        assert ours[s] == pytest.approx(ref[s], abs=tol), s


# (fastspex index, order, shapiq index, order); shapiq renames order-1 indices to SV / BV.
CASES = [
    *[(name, k, ref, k) for k in (1, 2, 3) for name, ref in
      (("sii", "SII"), ("bii", "BII"), ("ksii", "k-SII"), ("stii", "STII"), ("fsii", "FSII"),
       ("fbii", "FBII"))],
    ("ksii", 1, "SV", None),
    ("bii", 1, "BV", None),
    ("mobius", None, "Moebius", None),
]


@pytest.mark.parametrize("n", [3, 5, 8])
@pytest.mark.parametrize(("name", "order", "ref_name", "ref_order"), CASES)
def test_to_shapiq_matches_exact_computer(n, name, order, ref_name, ref_order):
    if n < 3 and order == 3:
        pytest.skip("order above n")
    table, game = _game(n * 7 + len(name), n)
    coefs = _mobius(table, n)
    ref = ExactComputer(game, n_players=n)(ref_name, ref_order) if ref_order else \
        ExactComputer(game, n_players=n)(ref_name)
    idx = indices.compute_index(coefs, name, order)
    res = Interactions.from_index(idx, baseline=float(table[-1]), method="exact", surrogate=coefs)
    _same(res.to_shapiq(), ref)
    assert res.to_shapiq().estimated is False


@pytest.mark.parametrize(("name", "order"), [("sii", 1), ("sii", 2), ("ksii", 2), ("stii", 3),
                                             ("fsii", 2), ("fbii", 2), ("mobius", None)])
def test_to_shapiq_without_surrogate(name, order):
    """Indices that carry v(∅) (or, for SII, v(N) − Σ SV) need no surrogate."""
    n = 6
    table, game = _game(3, n)
    idx = indices.compute_index(_mobius(table, n), name, order)
    res = Interactions.from_index(idx, baseline=float(table[-1]), method="exact")
    ref_name = {"sii": "SII", "ksii": "k-SII", "stii": "STII", "fsii": "FSII", "fbii": "FBII",
                "mobius": "Moebius"}[name]
    ref = ExactComputer(game, n_players=n)(ref_name, order) if order else \
        ExactComputer(game, n_players=n)(ref_name)
    _same(res.to_shapiq(), ref)


def test_shapley_values_are_efficient_in_the_export():
    """The bug: SV exported with SII(∅) as baseline no longer summed to v(N) − v(∅)."""
    n = 5
    table, _ = _game(11, n)
    res = Interactions.from_index(indices.sii(_mobius(table, n), 1), baseline=float(table[-1]))
    iv = res.to_shapiq()
    assert iv.index == "SV"
    assert iv.baseline_value == pytest.approx(table[0])
    singles = sum(iv[(i,)] for i in range(n))
    assert singles == pytest.approx(table[-1] - table[0])


def test_bii_without_v_empty_is_refused():
    n = 5
    table, _ = _game(2, n)
    res = Interactions.from_index(indices.banzhaf(_mobius(table, n), 2), baseline=1.0)
    with pytest.raises(ValueError, match="v\\(∅\\)"):
        res.to_shapiq()
    # a complete BII (every order) determines f, so v(∅) follows without a surrogate
    full = Interactions.from_index(indices.banzhaf(_mobius(table, n)), baseline=float(table[-1]))
    assert full.to_shapiq().baseline_value == pytest.approx(table[0])


@pytest.mark.parametrize(("name", "order"), [("sii", 2), ("sii", 3), ("bii", 1), ("bii", 2),
                                             ("ksii", 1), ("ksii", 2), ("ksii", 3), ("stii", 2),
                                             ("fsii", 2), ("fbii", 1), ("fbii", 3),
                                             ("mobius", None)])
def test_round_trip_keeps_values_labels_and_baseline(name, order):
    n = 6
    table, _ = _game(5, n)
    coefs = _mobius(table, n)
    labels = [f"w{i}" for i in range(n)]
    res = Interactions.from_index(indices.compute_index(coefs, name, order), labels=labels,
                                  baseline=float(table[-1]), surrogate=coefs, method="exact")
    iv = res.to_shapiq()
    extra = {}
    if name in ("bii", "fbii"):  # of order < n: shapiq's values do not carry f(all kept)
        with pytest.raises(ValueError, match="baseline="):
            Interactions.from_shapiq(iv, labels=labels)
        extra = {"baseline": res.baseline}
    back = Interactions.from_shapiq(iv, labels=labels, **extra)
    assert back.index == name and back.order == order
    assert back.labels == labels
    assert back.baseline == pytest.approx(table[-1])
    for s in itertools.chain.from_iterable(
            itertools.combinations(range(n), k) for k in range(n + 1)):
        assert back[s] == pytest.approx(res[s], abs=1e-9), s


@pytest.mark.parametrize(("ref_name", "order", "name"), [
    ("SV", None, "ksii"), ("k-SII", 2, "ksii"), ("STII", 2, "stii"), ("FSII", 3, "fsii"),
    ("SII", 2, "sii"), ("Moebius", None, "mobius"), ("BII", 6, "bii"), ("FBII", 6, "fbii"),
])
def test_from_shapiq_derives_full_output(ref_name, order, name):
    """from_shapiq keeps baseline = f(all kept) wherever the values determine it."""
    n = 6
    table, game = _game(9, n)
    ec = ExactComputer(game, n_players=n)
    iv = ec(ref_name, order) if order else ec(ref_name)
    res = Interactions.from_shapiq(iv, labels=list("abcdef"))
    assert res.index == name
    assert res.labels == list("abcdef")
    assert res.baseline == pytest.approx(table[-1], abs=1e-8)
    assert res.method == "shapiq"


@pytest.mark.parametrize(("ref_name", "order"), [("BII", 2), ("FBII", 2), ("BV", None)])
def test_from_shapiq_refuses_to_guess_full_output(ref_name, order):
    n = 5
    table, game = _game(4, n)
    ec = ExactComputer(game, n_players=n)
    iv = ec(ref_name, order) if order else ec(ref_name)
    with pytest.raises(ValueError, match="baseline="):
        Interactions.from_shapiq(iv)
    res = Interactions.from_shapiq(iv, baseline=float(table[-1]))
    assert res.baseline == float(table[-1])


def test_from_shapiq_unknown_index():
    iv = shapiq.InteractionValues(np.array([0.0, 1.0]), index="CHII", max_order=2, n_players=2,
                                  min_order=1, interaction_lookup={(0,): 0, (0, 1): 1},
                                  baseline_value=0.0)
    with pytest.raises(ValueError, match="no fastspex counterpart"):
        Interactions.from_shapiq(iv)


# ----------------------------------------------------------------------------- k-SII
@pytest.mark.parametrize("n", [4, 7, 10])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_ksii_matches_exact_computer(n, order):
    table, game = _game(100 + n, n)
    ref = ExactComputer(game, n_players=n)("k-SII", order)
    for basis in ("mobius", "fourier"):
        coefs = _mobius(table, n)
        if basis == "fourier":
            coefs = indices.to_fourier(coefs)
        ours = indices.compute_index(coefs, "ksii", order)
        assert ours.index == "ksii" and ours.order == order
        assert ours[()] == pytest.approx(table[0], abs=1e-8)
        for s, v in ref.interactions.items():
            assert ours[s] == pytest.approx(v, abs=1e-8), (basis, s)
        assert len(ours) <= len(ref.interactions)
        # efficiency: the non-empty sets up to k sum to f(1) − f(0)
        assert ours.values[ours.orders() > 0].sum() == pytest.approx(table[-1] - table[0])


def test_ksii_is_sparse_for_large_n():
    """k-SII of a sparse function on 5,000 components, without enumerating 2ⁿ sets."""
    n = 5000
    coefs = Coefficients.from_dict({(): 1.0, (3,): 2.0, (10, 4000): -1.0, (7, 8, 9): 0.5,
                                    (1, 2, 3, 4): 0.25}, n, "mobius")
    k2 = indices.compute_index(coefs, "ksii", 2)
    assert max(k2.orders()) == 2 and len(k2) < 20
    # brute force on the 9 components involved (the others are dummies)
    used = [1, 2, 3, 4, 7, 8, 9, 10, 4000]
    small = Coefficients.from_dict(
        {tuple(used.index(i) for i in s): v for s, v in coefs.to_dict().items()}, 9, "mobius")
    m = 9
    table = indices.evaluate(small, np.array([[r >> j & 1 for j in range(m)]
                                              for r in range(1 << m)], bool))
    ref = ExactComputer(lambda c: table[(np.asarray(c, np.int64)
                                         * (np.int64(1) << np.arange(m))).sum(1)], n_players=m)(
        "k-SII", 2)
    for s, v in ref.interactions.items():
        assert k2[tuple(used[i] for i in s)] == pytest.approx(v, abs=1e-10), s


def test_ksii_needs_an_order():
    coefs = Coefficients.from_dict({(0, 1): 1.0}, 3, "mobius")
    with pytest.raises(ValueError, match="order"):
        indices.compute_index(coefs, "ksii")
    res = Interactions.from_index(indices.compute_index(coefs, "ksii", 2), baseline=1.0)
    assert res.index == "ksii" and res[0, 1] == pytest.approx(1.0)
