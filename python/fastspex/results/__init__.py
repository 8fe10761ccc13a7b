"""Results: the named, saveable :class:`Interactions` of a run, its plots and its HTML report.

``plot`` and ``report`` need matplotlib (the ``plot`` extra) and load on first use.
"""

from __future__ import annotations

from .interactions import SCHEMA, Interaction, Interactions, index_label

__all__ = ["SCHEMA", "Interaction", "Interactions", "index_label"]
