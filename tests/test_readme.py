"""Every Python code block of the README runs as written, so the examples cannot rot."""
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    text = README.read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_examples():
    assert len(python_blocks()) >= 2


@pytest.mark.parametrize("i", range(len(python_blocks())))
def test_readme_python_block_runs(i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the example writes land here; shipped checkpoints are found anyway
    code = python_blocks()[i]
    exec(compile(code, f"README.md python block {i}", "exec"), {"__name__": "__readme__"})
