"""Prefix reuse for component ablation of one fixed input: the layers before the first ablated
site give the same activations for every mask, so they run once and every later row starts from
their output.

:class:`PrefixReuse` captures the input of layer ``first`` on one row (a normal forward pass),
then, for the other rows, replaces the layers before ``first`` by pass-throughs and feeds layer
``first`` the captured activations. A pass-through layer still sees the embedding output; the
hook checks that it equals the captured row's, so a forward pass on a different input raises
instead of silently reusing the wrong prefix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["PrefixReuse"]


class PrefixReuse:
    """Skip ``blocks[:first]`` for rows of a batch whose input equals the captured one."""

    def __init__(self, blocks: Sequence[Any], first: int) -> None:
        self.blocks = list(blocks)
        self.first = int(first)
        self._embedded: Any = None  # input of block 0 on the captured row, (1, T, d)
        self._prefix: Any = None  # input of block `first` on the captured row, (1, T, d)
        self._tuple = False  # whether a block returns a tuple (hidden_states, ...)

    @property
    def useful(self) -> bool:
        """Whether any layer can be skipped."""
        return 0 < self.first < len(self.blocks)

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Within the block, a forward pass on one row records the activations to reuse."""
        seen: dict[str, Any] = {}

        def grab(name: str) -> Any:
            def hook(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
                x = args[0] if args else kwargs["hidden_states"]
                seen[name] = x.detach().clone()

            return hook

        def kind(module: Any, args: tuple[Any, ...], output: Any) -> None:
            seen["tuple"] = isinstance(output, tuple)

        handles = [self.blocks[0].register_forward_pre_hook(grab("embedded"), with_kwargs=True),
                   self.blocks[self.first].register_forward_pre_hook(grab("prefix"), with_kwargs=True),
                   self.blocks[0].register_forward_hook(kind)]
        try:
            yield
        finally:
            for h in handles:
                h.remove()
        if seen.get("prefix") is None or seen["prefix"].shape[0] != 1:
            msg = "prefix capture needs exactly one forward pass on one row"
            raise RuntimeError(msg)
        self._embedded, self._prefix, self._tuple = seen["embedded"], seen["prefix"], seen["tuple"]

    @contextmanager
    def reuse(self) -> Iterator[None]:
        """Within the block, forward passes skip ``blocks[:first]`` and start from the capture."""
        if self._prefix is None:
            msg = "call capture() before reuse()"
            raise RuntimeError(msg)
        embedded, prefix, as_tuple = self._embedded, self._prefix, self._tuple

        def passthrough(*args: Any, **kwargs: Any) -> Any:
            x = args[0] if args else kwargs["hidden_states"]
            return (x,) if as_tuple else x

        def check(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            x = args[0] if args else kwargs["hidden_states"]
            if x.shape[1:] != embedded.shape[1:] or not bool((x == embedded.to(x.dtype)).all()):
                msg = ("prefix reuse saw a different input from the captured one "
                       "(pass reuse_prefix=False for this scorer)")
                raise RuntimeError(msg)

        def feed(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            x = args[0] if args else kwargs["hidden_states"]
            new = prefix.to(x.device, x.dtype).expand(x.shape[0], *prefix.shape[1:])
            if args:
                return (new, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": new}

        handles = [self.blocks[0].register_forward_pre_hook(check, with_kwargs=True),
                   self.blocks[self.first].register_forward_pre_hook(feed, with_kwargs=True)]
        for block in self.blocks[: self.first]:
            block.forward = passthrough  # instance attribute: hooks on the block still run
        try:
            yield
        finally:
            for block in self.blocks[: self.first]:
                del block.forward
            for h in handles:
                h.remove()
