"""Bad-input cases for tests/test_bad_inputs.py, one module per area (``cases_*.py``)."""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence


@dataclasses.dataclass(frozen=True)
class Case:
    id: str                                  # unique, short: what is wrong
    script: str                              # e.g. "handwriting.py"
    args: Sequence[str]                      # command-line arguments; "{tmp}" is the case's folder
    names: Sequence[str] = ()                # substrings the error line must contain (the file/value)
    setup: Optional[Callable] = None         # setup(tmp_path) -> extra args (or None); makes bad files
    stdin: Optional[str] = None
    timeout: float = 120.0
    allowed_new: Sequence[str] = ()          # file names a case may legitimately leave (none by default)
