"""Usage mistakes on the command line: one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["OneLineParser", "UsageError", "fail"]


class UsageError(SystemExit):
    """An ordinary mistake on the command line: one line on stderr, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = " ".join(str(message).split())  # one line, whatever the message holds

    def __str__(self) -> str:
        return self.message


def fail(message: str) -> UsageError:
    """The error for one usage mistake (raise it)."""
    return UsageError(message)


class OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see {self.prog} --help)")


