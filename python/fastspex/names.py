"""The names of the interaction indices and explainer methods, in one place.

Every module that accepts an index or a method (the index conversions, pair scoring, results,
``explain`` and the command line) takes its list from here, so adding one is a one-line change.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "BUILTIN_METHODS",
    "INDEX_ALIASES",
    "INDEX_LABELS",
    "INDEX_MEANINGS",
    "INDICES",
    "NEEDS_ORDER",
    "SHAPIQ_NAMES",
    "VALUE_ALIASES",
    "IndexName",
    "index_label",
    "resolve_index",
]

IndexName = Literal["fourier", "mobius", "bii", "sii", "fbii", "fsii", "stii", "ksii", "ablation"]
#: Every index the library computes (the order in help texts: the recommended ones first).
INDICES: tuple[str, ...] = ("fbii", "fsii", "stii", "ksii", "sii", "bii", "fourier", "mobius", "ablation")
#: Indices defined for a chosen order k (a k-truncated approximation of the function).
NEEDS_ORDER: tuple[str, ...] = ("fbii", "fsii", "stii", "ksii")

#: Names accepted for an index besides ``INDICES`` -> (the index, the order it implies or None):
#: order-1 values under their usual names, and shapiq's spellings.
INDEX_ALIASES: dict[str, tuple[str, int | None]] = {
    "sv": ("ksii", 1), "bv": ("bii", 1), "k-sii": ("ksii", None), "moebius": ("mobius", None),
}


#: The order-1 aliases the command line offers beside ``INDICES``.
VALUE_ALIASES: tuple[str, ...] = ("sv", "bv")


def resolve_index(name: str) -> tuple[str, int | None]:
    """``(index, implied order or None)`` for an index name or alias, case-insensitively
    (``"SV"`` -> ``("ksii", 1)``: Shapley values are k-SII of order 1). Unknown names come back
    unchanged, for the caller's own error."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key in INDICES:
        return key, None
    return INDEX_ALIASES.get(key, (name, None))


#: The methods that ship with fastspex (``fastspex.explainers.register`` adds more).
BUILTIN_METHODS: tuple[str, ...] = ("auto", "proxyspex", "spex", "fm", "lasso", "greedy", "exact", "screened")

#: How each index is written for people (plots, report, command line).
INDEX_LABELS: dict[str, str] = {
    "fourier": "Fourier", "mobius": "Möbius", "bii": "BII", "sii": "SII", "fbii": "FBII",
    "fsii": "FSII", "stii": "STII", "ksii": "k-SII", "ablation": "Ablation Δ",
}
#: One plain sentence per index: what its values are (report, ``repr``, ``--help``).
INDEX_MEANINGS: dict[str, str] = {
    "fbii": ("Faith-Banzhaf interactions of order k: the terms of the best order-k polynomial fit "
             "of the output over all masks weighted equally (∅ holds the fit's value with none kept)."),
    "fsii": ("Faith-Shapley interactions of order k: the best order-k fit under the Shapley "
             "weighting; all values, ∅ included, sum to f(all kept)."),
    "stii": ("Shapley-Taylor interactions of order k: smaller sets keep their pure joint effect, "
             "sets of size k absorb every higher-order effect; all values sum to f(all kept)."),
    "ksii": ("k-SII (shapiq's aggregated Shapley interactions) of order k: Shapley interactions "
             "combined so that all values, ∅ included, sum to f(all kept); order 1 = Shapley values."),
    "sii": ("Shapley interaction index: a set's joint effect averaged over the other components' "
            "contexts with Shapley weights (a single component: its Shapley value)."),
    "bii": ("Banzhaf interaction index: a set's joint effect averaged over all contexts equally, "
            "each other component kept with probability ½."),
    "fourier": ("Fourier (Walsh) coefficients: the weight of each parity term in "
                "f(x) = Σ F(S)·(−1)^Σx; a single component's Banzhaf value is −2 times its F."),
    "mobius": ("Möbius coefficients (Harsanyi dividends): the pure joint effect of keeping exactly "
               "this set on top of its subsets; ∅ holds f(none kept), all values sum to f(all kept)."),
    "ablation": ("Ablation interactions at the full input: for one component the output lost by "
                 "removing it, f(all) − f(all but it); for a pair, how much more removing one loses "
                 "while the other is present than once it is gone."),
}
#: shapiq's names (order 1 of the Shapley family is "SV", of the Banzhaf family "BV").
SHAPIQ_NAMES: dict[str, str] = {
    "mobius": "Moebius", "sii": "SII", "bii": "BII", "ksii": "k-SII", "stii": "STII",
    "fsii": "FSII", "fbii": "FBII",
}


def index_label(index: str) -> str:
    """The display name of an index ("ksii" -> "k-SII")."""
    return INDEX_LABELS.get(index, index.upper())
