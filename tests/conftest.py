"""Shared test fixtures: the real-data root and a headless matplotlib backend."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Plots in tests must never try to open a window (CI and the GPU box have no display).
os.environ["MPLBACKEND"] = "Agg"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the real data sets (``$JAXSEQ_DATA``, CI sets it to ../shared/data); skips if absent."""
    root = os.environ.get("JAXSEQ_DATA")
    if not root:
        pytest.skip("real data not available: set JAXSEQ_DATA to the data root (e.g. ../shared/data)")
    path = Path(root).expanduser()
    if not path.is_dir():
        pytest.skip(f"real data not available: JAXSEQ_DATA={root!r} is not a directory")
    return path
