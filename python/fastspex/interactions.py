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

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .coefficients import Coefficients

__all__ = ["SCHEMA", "Interaction", "Interactions"]

#: Identifier of the JSON layout written by :meth:`Interactions.save`.
SCHEMA = "fastspex.interactions/1"

_SHAPIQ_NAMES = {
    "bii": "BII", "sii": "SII", "fbii": "FBII", "fsii": "FSII", "stii": "STII", "mobius": "Moebius",
}
_FROM_SHAPIQ = {v: k for k, v in _SHAPIQ_NAMES.items()}
KNOWN_INDICES = ("fourier", "mobius", "bii", "sii", "fbii", "fsii", "stii", "ablation")


class Interaction(NamedTuple):
    """One set of components and its index value."""

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
        index: the index name ("fbii", "fsii", "stii", "sii", "bii", "fourier", "mobius",
            "ablation").
        order: the index order (fbii/fsii/stii), or the largest set size kept (``None`` = all).
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
    labels: list[str] | None = None
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
        cls, values: dict[Iterable[int], float], n: int, *, index: str, **fields: Any
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
            index, order = result.basis, fields.pop("order", None)
        else:
            index = getattr(result, "index", None)
            order = fields.pop("order", getattr(result, "order", None))
            if index is None:
                msg = f"expected an InteractionIndex or Coefficients, got {type(result).__name__}"
                raise TypeError(msg)
        return cls(
            n=result.n, labels=list(labels) if labels is not None else None,  # type: ignore[attr-defined]
            indptr=result.indptr, indices=result.indices, values=result.values,  # type: ignore[attr-defined]
            index=index, order=order, **fields,
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        faith = "n/a" if self.faithfulness is None else f"{self.faithfulness:.3f}"
        return (
            f"Interactions(index={self.index!r}, order={self.order}, n={self.n}, sets={len(self)}, "
            f"method={self.method!r}, calls={self.calls}, faithfulness={faith})"
        )

    def support(self, k: int) -> tuple[int, ...]:
        """Component ids of set ``k``."""
        return tuple(int(i) for i in self.indices[self.indptr[k] : self.indptr[k + 1]])

    def orders(self) -> np.ndarray:
        """Size of every set."""
        return np.diff(self.indptr)

    def _entry(self, k: int) -> Interaction:
        ids = self.support(k)
        return Interaction(ids, tuple(self.labels[i] for i in ids), float(self.values[k]))

    def __iter__(self):
        return (self._entry(k) for k in range(len(self)))

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
                if not hits:
                    msg = f"no component is named {p!r}"
                    raise KeyError(msg)
                if len(hits) > 1:
                    msg = f"{p!r} names components {hits}; index by id instead"
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

    def top(self, k: int = 10, *, order: int | None = None, by: str = "magnitude") -> list[Interaction]:
        """The ``k`` strongest non-empty sets (optionally of one ``order``).

        ``by``: "magnitude" (largest |value|), "largest" or "smallest" value. Ties by ids.
        """
        from ._validate import as_int

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
        return [self._entry(int(r)) for r in chosen]

    def by_order(self) -> dict[int, list[Interaction]]:
        """``{order: [sets of that order, strongest first]}`` (the empty set under 0)."""
        out: dict[int, list[Interaction]] = {}
        orders = self.orders()
        for o in sorted({int(x) for x in orders}):
            rows = np.flatnonzero(orders == o)
            rows = rows[np.argsort(-np.abs(self.values[rows]), kind="stable")]
            out[o] = [self._entry(int(r)) for r in rows]
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
    def evaluate(self, masks: object) -> np.ndarray:
        """Predicted model output on each mask (``(m, n)`` bool, 1 = kept, or packed masks).

        Uses the surrogate when the run kept one; a complete Möbius/Fourier result predicts by
        itself. Other indices summarise the model and cannot predict outputs.
        """
        from . import indices

        coefs = self.surrogate
        if coefs is None and self.index in ("mobius", "fourier") and self.order is None:
            coefs = Coefficients(self.n, self.indptr, self.indices, self.values, self.index)  # type: ignore[arg-type]
        if coefs is None:
            msg = (
                f"this result ({self.index!r} values from {self.method!r}) has no surrogate "
                "expansion to predict outputs with"
            )
            raise ValueError(msg)
        return indices.evaluate(coefs, masks)

    # ------------------------------------------------------------------ conversions
    def to_pandas(self):
        """A DataFrame with one row per set: ``ids``, ``names``, ``order``, ``value``."""
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
        """A graph: a node per component (``label``, ``main_effect``), an edge per pair (``weight``)."""
        try:
            import networkx as nx
        except ImportError as err:
            msg = "to_networkx needs networkx: pip install fastspex[plot]"
            raise ImportError(msg) from err
        g = nx.Graph(index=self.index, order=self.order, baseline=self.baseline)
        main = self.main_effects()
        for i in range(self.n):
            g.add_node(i, label=self.labels[i], main_effect=float(main[i]))
        orders = self.orders()
        for k in np.flatnonzero(orders == 2):
            i, j = self.support(int(k))
            g.add_edge(i, j, weight=float(self.values[k]))
        return g

    def to_shapiq(self):
        """The values as a ``shapiq.InteractionValues`` (indices shapiq knows: bii, sii, fbii, fsii, stii, mobius)."""
        if self.index not in _SHAPIQ_NAMES:
            msg = f"shapiq has no counterpart of the {self.index!r} index"
            raise ValueError(msg)
        try:
            from shapiq import InteractionValues
        except ImportError as err:
            msg = "to_shapiq needs shapiq: pip install shapiq"
            raise ImportError(msg) from err
        orders = self.orders()
        lookup = {self.support(k): k for k in range(len(self))}
        max_order = self.order if self.order is not None else int(orders.max(initial=0))
        return InteractionValues(
            np.array(self.values, dtype=float),
            index=_SHAPIQ_NAMES[self.index],
            max_order=int(max(max_order, int(orders.max(initial=0)))),
            n_players=self.n,
            min_order=int(orders.min(initial=0)),
            interaction_lookup=lookup,
            estimated=self.method not in ("exact", "dense"),
            estimation_budget=self.calls or None,
            baseline_value=self[()],
        )

    @classmethod
    def from_shapiq(
        cls, values: object, *, labels: Sequence[str] | None = None, **fields: Any
    ) -> Interactions:
        """Build from a ``shapiq.InteractionValues`` (its index must be one fastspex knows)."""
        lookup = getattr(values, "interaction_lookup", None)
        raw = getattr(values, "values", None)
        if lookup is None or raw is None:
            msg = f"expected a shapiq.InteractionValues, got {type(values).__name__}"
            raise TypeError(msg)
        name = str(values.index)  # type: ignore[attr-defined]
        if name not in _FROM_SHAPIQ:
            msg = f"shapiq index {name!r} has no fastspex counterpart ({', '.join(_FROM_SHAPIQ)})"
            raise ValueError(msg)
        items = sorted(lookup.items(), key=lambda kv: (len(kv[0]), tuple(kv[0])))
        data = {tuple(s): float(np.asarray(raw)[pos]) for s, pos in items}
        fields.setdefault("method", "shapiq")
        fields.setdefault("order", int(values.max_order))  # type: ignore[attr-defined]
        if () not in data:
            fields.setdefault("baseline", float(values.baseline_value))  # type: ignore[attr-defined]
        fields.setdefault("budget", getattr(values, "estimation_budget", None))
        return cls.from_dict(
            data, int(values.n_players), index=_FROM_SHAPIQ[name],  # type: ignore[attr-defined]
            labels=list(labels) if labels is not None else None, **fields,
        )

    # ------------------------------------------------------------------ persistence
    def to_json_dict(self) -> dict[str, Any]:
        """The JSON document :meth:`save` writes (schema ``fastspex.interactions/1``)."""
        from . import __version__

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
        """Write the result as JSON; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = self.to_json_dict()
        # One top-level field per line, each value compact: diffable, and big arrays stay small.
        lines = [
            f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, allow_nan=False)}"
            for k, v in doc.items()
        ]
        path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
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
        try:
            inter = doc["interactions"]
            sur = doc.get("surrogate")
            surrogate = None if sur is None else Coefficients(
                int(doc["n"]), np.asarray(sur["indptr"], np.int64),
                np.asarray(sur["indices"], np.int32), np.asarray(sur["values"], np.float64),
                sur["basis"],
            )
            return cls(
                n=int(doc["n"]), labels=list(doc["labels"]),
                indptr=np.asarray(inter["indptr"], np.int64),
                indices=np.asarray(inter["indices"], np.int32),
                values=np.asarray(inter["values"], np.float64),
                index=doc["index"], order=doc.get("order"), baseline=doc.get("baseline", 0.0),
                method=doc.get("method", "unknown"), calls=int(doc.get("calls", 0)),
                budget=doc.get("budget"), faithfulness=doc.get("faithfulness"),
                kind=doc.get("kind"), metadata=dict(doc.get("metadata") or {}),
                settings=dict(doc.get("settings") or {}),
                timings={k: float(v) for k, v in (doc.get("timings") or {}).items()},
                surrogate=surrogate,
            )
        except KeyError as err:
            msg = f"interactions document lacks the field {err.args[0]!r}"
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
