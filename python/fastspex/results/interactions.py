"""The result users touch: named, sparse interaction values with the run's provenance.

An :class:`Interactions` holds the values of one interaction index (FBII, FSII, Shapley,
Möbius, …) on a sparse list of component sets, the component names, the output with every
component kept (``baseline``), how many model calls were spent, how faithful the surrogate is,
and — when the run produced one — the surrogate itself (a sparse Fourier expansion), so
``evaluate(masks)`` predicts the model's output on new masks.

Save/load use a versioned JSON schema (``"fastspex.interactions/1"``); readers refuse files of
an unknown schema instead of guessing.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..coefficients import Coefficients
from ..masks import MaskLike
from ..names import INDEX_LABELS, INDICES, index_label
from .tables import Top

__all__ = ["INDEX_LABELS", "SCHEMA", "Interaction", "Interactions", "index_label"]

#: Identifier of the JSON layout written by :meth:`Interactions.save`.
SCHEMA = "fastspex.interactions/1"

# shapiq index -> fastspex index ("SV" is k-SII of order 1: the Shapley values with f(0) at ∅;
# "BV" is BII or FBII of order 1, told apart by the empty set, see from_shapiq).
_FROM_SHAPIQ = {
    "Moebius": "mobius", "SII": "sii", "BII": "bii", "k-SII": "ksii", "STII": "stii",
    "FSII": "fsii", "FBII": "fbii", "SV": "ksii", "BV": "bii",
}
KNOWN_INDICES = INDICES


class Interaction(NamedTuple):
    """One set of components and its index value (``names``: unique labels, ``was@7``)."""

    ids: tuple[int, ...]
    names: tuple[str, ...]
    value: float

    @property
    def order(self) -> int:
        """Number of components in the set."""
        return len(self.ids)

    def __str__(self) -> str:
        return f"{' × '.join(self.names) or '∅'}: {self.value:+.4g}"


def _csr(sets: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    sizes = [len(s) for s in sets]
    indptr = np.zeros(len(sets) + 1, np.int64)
    np.cumsum(sizes, out=indptr[1:])
    indices = np.fromiter((int(i) for s in sets for i in s), np.int32, count=int(indptr[-1]))
    return indptr, indices


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(eq=False)
class Interactions:
    """Values of an interaction index on sparse sets of named components.

    Attributes:
        n: number of components.
        labels: a name per component (``labels[i]`` names component ``i``).
        indptr, indices, values: the sets in CSR form (set ``k`` is
            ``indices[indptr[k]:indptr[k+1]]``, sorted) and their index values. The empty set,
            when present, holds the index's constant term.
        index: the index name ("fbii", "fsii", "stii", "ksii", "sii", "bii", "fourier",
            "mobius", "ablation").
        order: the index order (fbii/fsii/stii/ksii), or the largest set size kept (``None`` = all).
        baseline: the model output with every component kept.
        method: the method that produced the values ("proxyspex", "spex", "fm", "lasso",
            "greedy", "shapiq", …).
        calls: model calls spent (including any held-out faithfulness masks).
        budget: the budget of model calls the method was given (``None`` if not applicable).
        faithfulness: R² of the surrogate on held-out uniform masks (``None`` if not measured).
        kind: what the components are: "features", "components", "data" or ``None``.
        metadata: kind-specific facts (e.g. ``text``, ``units`` spans, ``n_layers``, ``n_heads``).
        settings: every parameter of the run (JSON-serialisable).
        timings: seconds per phase.
        surrogate: the fitted sparse expansion (Fourier or Möbius) behind the values, used by
            :meth:`evaluate`; ``None`` if the method has none.
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    index: str
    labels: list[str] = None  # type: ignore[assignment]  # None means the ids; __post_init__ fills them
    order: int | None = None
    baseline: float = 0.0
    method: str = "unknown"
    calls: int = 0
    budget: int | None = None
    faithfulness: float | None = None
    kind: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    surrogate: Coefficients | None = None

    def __post_init__(self) -> None:
        n = int(self.n)
        if n < 1:
            msg = f"n must be >= 1, got {self.n}"
            raise ValueError(msg)
        self.n = n
        if self.labels is None:
            labels = [str(i) for i in range(n)]
        else:
            labels = [str(x) for x in self.labels]
        if len(labels) != n:
            msg = f"labels has {len(labels)} names for n = {n} components"
            raise ValueError(msg)
        self.labels = labels
        self.indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.int32)
        self.values = np.ascontiguousarray(self.values, dtype=np.float64)
        if self.indptr.ndim != 1 or self.indices.ndim != 1 or self.values.ndim != 1:
            msg = "indptr, indices and values must be 1-D"
            raise ValueError(msg)
        if (
            len(self.indptr) != len(self.values) + 1
            or self.indptr[0] != 0
            or self.indptr[-1] != len(self.indices)
            or np.any(np.diff(self.indptr) < 0)
        ):
            msg = "indptr must be non-decreasing with K+1 entries from 0 to len(indices)"
            raise ValueError(msg)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n):
            msg = f"component ids must lie in [0, {n})"
            raise ValueError(msg)
        if not np.all(np.isfinite(self.values)):
            msg = "interaction values must be finite (found NaN or inf)"
            raise ValueError(msg)
        if self.index not in KNOWN_INDICES:
            msg = f"index must be one of {', '.join(KNOWN_INDICES)}; got {self.index!r}"
            raise ValueError(msg)
        if self.surrogate is not None and not isinstance(self.surrogate, Coefficients):
            msg = f"surrogate must be fastspex Coefficients, got {type(self.surrogate).__name__}"
            raise TypeError(msg)
        if self.surrogate is not None and self.surrogate.n != n:
            msg = f"surrogate has n = {self.surrogate.n}, expected {n}"
            raise ValueError(msg)
        self.baseline = float(self.baseline)
        self.faithfulness = _finite_or_none(self.faithfulness)
        self._lookup: dict[tuple[int, ...], int] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(
        cls, values: Mapping[Any, float], n: int, *, index: str, **fields: Any
    ) -> Interactions:
        """Build from ``{set of component ids: value}``."""
        sets = [tuple(sorted({int(i) for i in s})) for s in values]
        indptr, indices = _csr(sets)
        vals = np.fromiter((float(v) for v in values.values()), np.float64, count=len(sets))
        return cls(n=n, indptr=indptr, indices=indices, values=vals, index=index, **fields)

    @classmethod
    def from_index(
        cls, result: object, *, labels: Sequence[str] | None = None, **fields: Any
    ) -> Interactions:
        """Wrap a :class:`~fastspex.indices.InteractionIndex` or :class:`Coefficients`."""
        if isinstance(result, Coefficients):
            index: str = result.basis
            order = fields.pop("order", None)
        else:
            found = getattr(result, "index", None)
            order = fields.pop("order", getattr(result, "order", None))
            if found is None:
                msg = f"expected an InteractionIndex or Coefficients, got {type(result).__name__}"
                raise TypeError(msg)
            index = str(found)
        names: Any = list(labels) if labels is not None else None  # None: __post_init__ uses the ids
        return cls(
            n=result.n, labels=names,  # type: ignore[attr-defined]  # result is an InteractionIndex or Coefficients, checked above
            indptr=result.indptr, indices=result.indices, values=result.values,  # type: ignore[attr-defined]  # as above
            index=index, order=order, **fields,
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        faith = "n/a" if self.faithfulness is None else f"{self.faithfulness:.3f}"
        from .describe import headline

        return (
            f"<Interactions: {headline(self)}; {len(self)} sets, method {self.method!r}, "
            f"{self.calls} new model calls, faithfulness R² {faith}>"
        )

    def __str__(self) -> str:
        """What was explained, how faithfully, and the ten strongest interactions."""
        from .tables import summary

        return summary(self)

    def _repr_html_(self) -> str:
        from .html_views import result_html

        return result_html(self)

    @property
    def unique_labels(self) -> list[str]:
        """The labels with repeated names suffixed by their id (``was@2``, ``was@7``).

        Every table, plot and export names components by these; ``res["was@7"]`` looks one up.
        """
        from .describe import unique_labels

        return unique_labels(self.labels)

    def plot(self, kind: str = "bar", **options: Any) -> Any:
        """One picture of the result: ``"bar"``, ``"graph"``, ``"waterfall"``, ``"text"`` or
        ``"heads"`` (options go to the function of that name in :mod:`fastspex.results.plot`).

        Returns a matplotlib ``Figure`` (shown inline in notebooks).
        """
        from . import plot

        kinds = plot.KINDS
        if kind not in kinds:
            msg = f"plot kind must be one of {', '.join(kinds)}; got {kind!r}"
            raise ValueError(msg)
        return getattr(plot, kind)(self, **options)

    def support(self, k: int) -> tuple[int, ...]:
        """Component ids of set ``k``."""
        return tuple(int(i) for i in self.indices[self.indptr[k] : self.indptr[k + 1]])

    def orders(self) -> np.ndarray:
        """Size of every set."""
        return np.diff(self.indptr)

    def _entry(self, k: int, names: Sequence[str] | None = None) -> Interaction:
        ids = self.support(k)
        names = self.unique_labels if names is None else names
        return Interaction(ids, tuple(names[i] for i in ids), float(self.values[k]))

    def __iter__(self):
        names = self.unique_labels
        return (self._entry(k, names) for k in range(len(self)))

    def _ids(self, key: object) -> tuple[int, ...]:
        parts = key if isinstance(key, (tuple, list, frozenset, set)) else (key,)
        ids = []
        for p in parts:
            if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
                if not 0 <= int(p) < self.n:
                    msg = f"component id {int(p)} is out of range [0, {self.n})"
                    raise IndexError(msg)
                ids.append(int(p))
            elif isinstance(p, str):
                hits = [i for i, name in enumerate(self.labels) if name == p]
                if not hits:  # a unique label such as "was@7"
                    hits = [i for i, name in enumerate(self.unique_labels) if name == p]
                if not hits:
                    msg = f"no component is named {p!r}"
                    raise KeyError(msg)
                if len(hits) > 1:
                    msg = (f"{p!r} names components {hits}; index by id or by the unique label "
                           f"({', '.join(self.unique_labels[i] for i in hits)})")
                    raise KeyError(msg)
                ids.append(hits[0])
            else:
                msg = f"index by component names or integer ids, got {type(p).__name__}"
                raise TypeError(msg)
        if len(set(ids)) != len(ids):
            msg = f"a set lists the same component twice: {key!r}"
            raise KeyError(msg)
        return tuple(sorted(ids))

    def __getitem__(self, key: object) -> float:
        """Value of one set, named by labels or ids: ``res["not", "bad"]``, ``res[3]``, ``res[()]``.

        Sets absent from the result have value 0.
        """
        if self._lookup is None:
            self._lookup = {self.support(k): k for k in range(len(self))}
        k = self._lookup.get(self._ids(key))
        return 0.0 if k is None else float(self.values[k])

    def top(self, k: int = 10, *, order: int | None = None, by: str = "magnitude") -> Top:
        """The ``k`` strongest non-empty sets (optionally of one ``order``).

        ``by``: "magnitude" (largest |value|), "largest" or "smallest" value. Ties by ids.
        A list of :class:`Interaction` that prints as a table.
        """
        from .._validate import as_int

        k = as_int(k, "k", minimum=0)
        if by not in ("magnitude", "largest", "smallest"):
            msg = f"by must be 'magnitude', 'largest' or 'smallest'; got {by!r}"
            raise ValueError(msg)
        orders = self.orders()
        keep = orders > 0 if order is None else orders == as_int(order, "order", minimum=1)
        rows = np.flatnonzero(keep)
        key = {"magnitude": -np.abs(self.values), "largest": -self.values,
               "smallest": self.values}[by][rows]
        # Stable sort keeps rows (sorted by size then ids by the producers) in order on ties.
        chosen = rows[np.argsort(key, kind="stable")[:k]]
        names = self.unique_labels
        out = Top(self._entry(int(r), names) for r in chosen)
        out.index_name = self.index
        return out

    def by_order(self) -> dict[int, list[Interaction]]:
        """``{order: [sets of that order, strongest first]}`` (the empty set under 0)."""
        out: dict[int, list[Interaction]] = {}
        names = self.unique_labels
        orders = self.orders()
        for o in sorted({int(x) for x in orders}):
            rows = np.flatnonzero(orders == o)
            rows = rows[np.argsort(-np.abs(self.values[rows]), kind="stable")]
            out[o] = [self._entry(int(r), names) for r in rows]
        return out

    def main_effects(self) -> np.ndarray:
        """Dense ``(n,)`` values of the single components (0 where absent)."""
        out = np.zeros(self.n)
        single = self.orders() == 1
        out[self.indices[self.indptr[:-1][single]]] = self.values[single]
        return out

    def pairs(self) -> list[Interaction]:
        """All pairs present, strongest first."""
        return self.by_order().get(2, [])

    # ------------------------------------------------------------------ prediction
    def evaluate(self, masks: MaskLike) -> np.ndarray:
        """Predicted model output on each mask (``(m, n)`` bool, 1 = kept, or packed masks).

        Uses the surrogate when the run kept one; a complete Möbius/Fourier result predicts by
        itself. Other indices summarise the model and cannot predict outputs.
        """
        from .. import indices

        coefs = self.surrogate
        if coefs is None and self.index in ("mobius", "fourier") and self.order is None:
            coefs = Coefficients(self.n, self.indptr, self.indices, self.values, self.index)  # type: ignore[arg-type]  # only reached for the two basis indices
        if coefs is None:
            msg = (
                f"this result ({self.index!r} values from {self.method!r}) has no surrogate "
                "expansion to predict outputs with"
            )
            raise ValueError(msg)
        return indices.evaluate(coefs, masks)

    # ------------------------------------------------------------------ conversions
    def to_pandas(self):
        """A DataFrame with one row per set: ``ids``, ``names`` (unique labels), ``order``, ``value``."""
        try:
            import pandas as pd
        except ImportError as err:
            msg = "to_pandas needs pandas: pip install fastspex[plot]"
            raise ImportError(msg) from err
        rows = list(self)
        return pd.DataFrame({
            "ids": [r.ids for r in rows],
            "names": [" × ".join(r.names) for r in rows],
            "order": np.asarray([r.order for r in rows], dtype=np.int64),
            "value": np.asarray([r.value for r in rows], dtype=np.float64),
        })

    def to_networkx(self):
        """A graph: a node per component (``label``: its unique label, ``text``: the raw label,
        ``main_effect``), an edge per pair (``weight``)."""
        try:
            import networkx as nx
        except ImportError as err:
            msg = "to_networkx needs networkx: pip install fastspex[plot]"
            raise ImportError(msg) from err
        g = nx.Graph(index=self.index, order=self.order, baseline=self.baseline)
        main = self.main_effects()
        names = self.unique_labels
        for i in range(self.n):
            g.add_node(i, label=names[i], text=self.labels[i], main_effect=float(main[i]))
        orders = self.orders()
        for k in np.flatnonzero(orders == 2):
            i, j = self.support(int(k))
            g.add_edge(i, j, weight=float(self.values[k]))
        return g

    def _empty_output(self) -> float | None:
        """``f(all ablated)`` as far as the result determines it (``None`` if it does not)."""
        from .. import indices

        if self.surrogate is not None:
            return float(indices.evaluate(self.surrogate, np.zeros((1, self.n), bool))[0])
        if self.index in ("mobius", "ksii", "stii", "fsii") and (self.order or 1) >= 1:
            return self[()]
        if self.index == "sii" and (self.order is None or self.order >= 1):
            # efficiency of the Shapley values: Σ φ_i = f(1) − f(0)
            return float(self.baseline - self.main_effects().sum())
        if self.index == "bii" and self.order is None:
            return indices.complete_bii_f0(self.to_dict())
        return None

    def to_dict(self) -> dict[tuple[int, ...], float]:
        """``{set of ids: value}``; fine for small results, use the arrays for large ones."""
        return {self.support(k): float(self.values[k]) for k in range(len(self))}

    def to_shapiq(self):
        """The values as a ``shapiq.InteractionValues``, in shapiq's conventions.

        Indices shapiq knows: mobius, sii, bii, ksii, stii, fsii, fbii. As shapiq's
        ``ExactComputer`` does: ``baseline_value`` is ``v(∅) = f(all ablated)`` (FBII: its
        empty-set value); order-1 results are named ``"SV"`` (sii, ksii, stii, fsii) or ``"BV"``
        (bii, fbii); the empty set holds ``v(∅)`` for SV, k-SII, STII, FSII and Möbius, and the
        index's own value for SII, BII, BV and FBII. ``f(all ablated)`` is taken from the
        surrogate when the result has one; a BII result of limited order without a surrogate
        does not determine it and is refused.
        """
        from .. import indices

        if self.index not in indices.SHAPIQ_NAMES:
            msg = f"shapiq has no counterpart of the {self.index!r} index"
            raise ValueError(msg)
        empty = self._empty_output() if self.index in ("sii", "bii") else None
        if self.index in ("sii", "bii") and empty is None:
            msg = (
                f"these {self.index.upper()} values of order {self.order} do not determine "
                "v(∅) = f(all ablated), which shapiq stores as baseline_value; keep the "
                "surrogate in the result (surrogate=...) to export them"
            )
            raise ValueError(msg)
        return indices.to_shapiq_values(
            self.to_dict(), self.n, self.index, self.order, empty_value=empty,
            estimated=self.method not in ("exact", "dense"), budget=self.calls or None,
        )

    @classmethod
    def from_shapiq(
        cls, values: object, *, labels: Sequence[str] | None = None, **fields: Any
    ) -> Interactions:
        """Build from a ``shapiq.InteractionValues``.

        Accepts SV, BV, k-SII, Moebius, STII, FSII, FBII, BII and SII. "SV" becomes k-SII of
        order 1 (the Shapley values, ``f(0)`` at ∅); "BV" becomes BII of order 1, or FBII of
        order 1 when its empty-set value is its ``baseline_value`` (as shapiq's FBII of order 1).
        Empty sets follow fastspex's conventions (``f(0)`` for Möbius, k-SII, STII, FSII).

        ``baseline`` (the output with every component kept) is derived where the values
        determine it (efficient indices, SII with its Shapley values, complete BII/FBII);
        otherwise pass ``baseline=...`` — it is never guessed.
        """
        lookup = getattr(values, "interaction_lookup", None)
        raw = getattr(values, "values", None)
        if lookup is None or raw is None:
            msg = f"expected a shapiq.InteractionValues, got {type(values).__name__}"
            raise TypeError(msg)
        name = str(values.index)  # type: ignore[attr-defined]  # a shapiq InteractionValues, duck-typed (shapiq is optional)
        if name not in _FROM_SHAPIQ:
            msg = (
                f"shapiq index {name!r} has no fastspex counterpart "
                f"(accepted: {', '.join(_FROM_SHAPIQ)})"
            )
            raise ValueError(msg)
        n = int(values.n_players)  # type: ignore[attr-defined]  # as above
        max_order = int(values.max_order)  # type: ignore[attr-defined]  # as above
        v0 = float(values.baseline_value)  # type: ignore[attr-defined]  # as above
        raw = np.asarray(raw, dtype=float)
        data = {tuple(sorted(int(i) for i in s)): float(raw[pos]) for s, pos in lookup.items()}
        index = _FROM_SHAPIQ[name]
        if name == "BV" and math.isclose(data.get((), 0.0), v0, rel_tol=1e-12, abs_tol=1e-12):
            index = "fbii"  # shapiq's FBII of order 1 stores its own ∅ value as baseline_value
        if index in ("ksii", "stii", "fsii", "mobius"):
            data[()] = v0  # v(∅) = f(0): shapiq's value there, and fastspex's
        order: int | None = None if index == "mobius" else (1 if name in ("SV", "BV") else max_order)
        if "baseline" not in fields:
            complete = max_order >= n
            if index in ("ksii", "stii", "fsii", "mobius") or (index == "fbii" and complete):
                full: float | None = sum(data.values())  # efficiency (∅ holds f(0))
            elif index == "sii" and values.min_order <= 1 <= max_order:  # type: ignore[attr-defined]  # as above
                full = v0 + sum(v for s, v in data.items() if len(s) == 1)
            elif index == "bii" and complete:
                full = sum(v * 0.5 ** len(s) for s, v in data.items())
            else:
                full = None
            if full is None:
                msg = (
                    f"shapiq's {name} values of order {max_order} do not determine the output "
                    "with every component kept; pass baseline=<f(all kept)> to from_shapiq"
                )
                raise ValueError(msg)
            fields["baseline"] = float(full)
        data = {s: v for s, v in data.items() if v != 0.0}
        items = dict(sorted(data.items(), key=lambda kv: (len(kv[0]), kv[0])))
        fields.setdefault("method", "shapiq")
        fields.setdefault("order", order)
        fields.setdefault("budget", getattr(values, "estimation_budget", None))
        return cls.from_dict(
            items, n, index=index, labels=list(labels) if labels is not None else None, **fields,
        )

    # ------------------------------------------------------------------ persistence
    def to_json_dict(self) -> dict[str, Any]:
        """The JSON document :meth:`save` writes (schema ``fastspex.interactions/1``)."""
        from .. import __version__

        sur = self.surrogate
        return {
            "schema": SCHEMA,
            "fastspex_version": __version__,
            "n": self.n,
            "labels": list(self.labels),
            "index": self.index,
            "order": self.order,
            "baseline": self.baseline,
            "method": self.method,
            "calls": int(self.calls),
            "budget": None if self.budget is None else int(self.budget),
            "faithfulness": self.faithfulness,
            "kind": self.kind,
            "metadata": _jsonable(self.metadata),
            "settings": _jsonable(self.settings),
            "timings": {str(k): float(v) for k, v in self.timings.items()},
            "interactions": {
                "indptr": self.indptr.tolist(),
                "indices": self.indices.tolist(),
                "values": self.values.tolist(),
            },
            "surrogate": None if sur is None else {
                "basis": sur.basis,
                "indptr": sur.indptr.tolist(),
                "indices": sur.indices.tolist(),
                "values": sur.values.tolist(),
            },
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the result as JSON; returns the path.

        The file is replaced atomically (temporary file in the same folder, fsync,
        ``os.replace``): a crash or kill during the save leaves the previous file intact. A
        symbolic link at ``path`` is replaced by the file, never written through.
        """
        path = Path(path)
        doc = self.to_json_dict()
        # One top-level field per line, each value compact: diffable, and big arrays stay small.
        lines = [
            f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, allow_nan=False)}"
            for k, v in doc.items()
        ]
        atomic_write_text(path, "{\n" + ",\n".join(lines) + "\n}\n")
        return path

    @classmethod
    def from_json_dict(cls, doc: dict[str, Any]) -> Interactions:
        """Inverse of :meth:`to_json_dict`; refuses unknown schemas."""
        if not isinstance(doc, dict):
            msg = f"an interactions document is a JSON object, got {type(doc).__name__}"
            raise TypeError(msg)
        schema = doc.get("schema")
        if schema != SCHEMA:
            msg = f"unsupported schema {schema!r}; this fastspex reads {SCHEMA!r}"
            raise ValueError(msg)
        def get(name: str, convert: Any, default: Any = KeyError) -> Any:
            path = name.split(".")
            value: Any = doc
            for part in path:
                if not isinstance(value, dict) or part not in value:
                    if default is KeyError:
                        msg = f"interactions document lacks the field {name!r}"
                        raise ValueError(msg)
                    return default
                value = value[part]
            try:
                return convert(value)
            except (TypeError, ValueError, OverflowError) as err:
                shown = repr(value) if len(repr(value)) < 60 else repr(value)[:57] + "..."
                msg = f"interactions document: bad field {name!r} = {shown} ({err})"
                raise ValueError(msg) from err

        def array(dtype: Any) -> Any:
            def convert(v: Any) -> np.ndarray:
                if not isinstance(v, list):
                    msg = f"expected a list, got {type(v).__name__}"
                    raise TypeError(msg)
                return np.asarray(v, dtype)
            return convert

        def optional(convert: Any) -> Any:
            return lambda v: None if v is None else convert(v)

        def labels(v: Any) -> list[str]:
            if not isinstance(v, list):
                msg = f"expected a list of names, got {type(v).__name__}"
                raise TypeError(msg)
            return [str(x) for x in v]

        def mapping(v: Any) -> dict:
            if not isinstance(v, dict):
                msg = f"expected an object, got {type(v).__name__}"
                raise TypeError(msg)
            return dict(v)

        def strict_int(v: Any) -> int:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
                msg = "expected an integer"
                raise TypeError(msg)
            return int(v)

        n = get("n", strict_int)
        surrogate = None
        if doc.get("surrogate") is not None:
            try:
                surrogate = Coefficients(
                    n, get("surrogate.indptr", array(np.int64)),
                    get("surrogate.indices", array(np.int32)),
                    get("surrogate.values", array(np.float64)), get("surrogate.basis", str),
                )
            except (TypeError, ValueError) as err:
                if "field" in str(err):
                    raise
                msg = f"interactions document: bad field 'surrogate' ({err})"
                raise ValueError(msg) from err
        fields = {
            "n": n, "labels": get("labels", labels),
            "indptr": get("interactions.indptr", array(np.int64)),
            "indices": get("interactions.indices", array(np.int32)),
            "values": get("interactions.values", array(np.float64)),
            "index": get("index", str), "order": get("order", optional(strict_int), None),
            "baseline": get("baseline", float, 0.0), "method": get("method", str, "unknown"),
            "calls": get("calls", strict_int, 0), "budget": get("budget", optional(strict_int), None),
            "faithfulness": get("faithfulness", optional(float), None),
            "kind": get("kind", optional(str), None),
            "metadata": get("metadata", optional(mapping), None) or {},
            "settings": get("settings", optional(mapping), None) or {},
            "timings": {k: float(v) for k, v in
                        (get("timings", optional(mapping), None) or {}).items()},
            "surrogate": surrogate,
        }
        try:
            return cls(**fields)
        except (TypeError, ValueError) as err:
            msg = f"interactions document: {err}"
            raise ValueError(msg) from err

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Interactions:
        """Read a result written by :meth:`save`."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            msg = f"{path} is not valid JSON: {err}"
            raise ValueError(msg) from err
        return cls.from_json_dict(doc)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` by a file holding ``text``, atomically (folders created).

    Writes a temporary file in the same folder, fsyncs it, then ``os.replace``s it over
    ``path`` and fsyncs the folder: readers see the old file or the new one, never a truncated
    one. A symbolic link at ``path`` is itself replaced (its target is left alone). The new
    file keeps the old file's permission bits (else the usual ``0o666 & ~umask``).
    """
    import tempfile

    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        msg = f"{path} is a folder, not a file"
        raise IsADirectoryError(msg)
    try:
        st = os.lstat(path)
        mode = st.st_mode & 0o777 if not os.path.islink(path) else None
    except FileNotFoundError:
        mode = None
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _jsonable(obj: Any) -> Any:
    """A JSON-safe copy: numpy scalars/arrays to Python, tuples to lists, other objects to repr."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return repr(obj)
