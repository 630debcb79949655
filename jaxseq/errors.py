"""Errors a user can act on. Their messages name the file, the value and what to do; the experiment
scripts turn them into one ``error: ...`` line and exit status 2."""
from __future__ import annotations


class DataError(RuntimeError):
    """Bad or missing input data, or an unusable checkpoint; the message names the file and what to do."""
