"""Hostile input through the real entry points (issue 10): every case must exit with status 2, print one
``error: ...`` line that names the file or value, show no traceback, and leave no output file behind.

The cases live in ``tests/bad_inputs/cases_*.py``: each module defines ``CASES``, a list of
:class:`bad_inputs.Case`. A case's ``setup(tmp_path)`` (optional) makes the bad files it needs and may
return extra arguments; ``args`` may contain ``{tmp}``, replaced by the case's temporary folder.
"""
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bad_inputs

ROOT = Path(__file__).resolve().parents[1]


def all_cases():
    out = []
    for m in pkgutil.iter_modules(bad_inputs.__path__):
        if m.name.startswith("cases_"):
            out += importlib.import_module(f"bad_inputs.{m.name}").CASES
    return out


CASES = all_cases()


def test_enough_cases():
    assert len(CASES) >= 40, f"only {len(CASES)} bad-input cases"
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path):
    extra = list(case.setup(tmp_path) or []) if case.setup else []
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args] + extra
    before = {p for p in tmp_path.rglob("*")}
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / case.script), *args],
                          capture_output=True, text=True, timeout=case.timeout, cwd=tmp_path,
                          input=case.stdin)
    err = proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-1500:]}\nstderr:\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(lines) == 1, err[-3000:]
    for needle in case.names:
        assert needle.replace("{tmp}", str(tmp_path)) in lines[0], (needle, lines[0])
    new = {p for p in tmp_path.rglob("*")} - before
    leftovers = [p for p in new if p.is_file() and p.name not in case.allowed_new]
    assert not leftovers, f"files left behind: {leftovers}"
