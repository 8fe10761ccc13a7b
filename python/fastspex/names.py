"""The names of the interaction indices and explainer methods, in one place.

Every module that accepts an index or a method (the index conversions, pair scoring, results,
``explain`` and the command line) takes its list from here, so adding one is a one-line change.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "BUILTIN_METHODS",
    "INDEX_LABELS",
    "INDICES",
    "IndexName",
    "NEEDS_ORDER",
    "SHAPIQ_NAMES",
    "index_label",
]

IndexName = Literal["fourier", "mobius", "bii", "sii", "fbii", "fsii", "stii", "ksii", "ablation"]
#: Every index the library computes (the order in help texts: the recommended ones first).
INDICES: tuple[str, ...] = ("fbii", "fsii", "stii", "ksii", "sii", "bii", "fourier", "mobius", "ablation")
#: Indices defined for a chosen order k (a k-truncated approximation of the function).
NEEDS_ORDER: tuple[str, ...] = ("fbii", "fsii", "stii", "ksii")

#: The methods that ship with fastspex (``fastspex.explainers.register`` adds more).
BUILTIN_METHODS: tuple[str, ...] = ("auto", "proxyspex", "spex", "fm", "lasso", "greedy", "exact")

#: How each index is written for people (plots, report, command line).
INDEX_LABELS: dict[str, str] = {
    "fourier": "Fourier", "mobius": "Möbius", "bii": "BII", "sii": "SII", "fbii": "FBII",
    "fsii": "FSII", "stii": "STII", "ksii": "k-SII", "ablation": "Ablation Δ",
}
#: shapiq's names (order 1 of the Shapley family is "SV", of the Banzhaf family "BV").
SHAPIQ_NAMES: dict[str, str] = {
    "mobius": "Moebius", "sii": "SII", "bii": "BII", "ksii": "k-SII", "stii": "STII",
    "fsii": "FSII", "fbii": "FBII",
}


def index_label(index: str) -> str:
    """The display name of an index ("ksii" -> "k-SII")."""
    return INDEX_LABELS.get(index, index.upper())
