"""Errors shared by every layer. This module imports nothing from keisei."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""
