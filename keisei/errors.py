"""Errors shared by every layer. This module imports nothing from keisei."""

from __future__ import annotations

from collections.abc import Sequence


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2, after ``warnings`` (what
    was passed over on the way to the error, e.g. each damaged checkpoint skipped), one
    ``warning:`` line each."""

    def __init__(self, message: str, warnings: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.warnings = tuple(warnings)
