"""Running an experiment script through its real entry point, and checking a user error (exit 2 with
exactly one ``error:`` line and no traceback). Shared by the CLI tests of scheduled_sampling, vae and
mdn_toy."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_script(name, *args, cwd=ROOT, stdin=None, **env):
    """``python experiments/<name> args...`` on the CPU, headless, without JAXSEQ_DEBUG (which keeps
    tracebacks); ``stdin`` is text fed to its standard input; ``env`` adds variables."""
    full = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg", **env)
    full.pop("JAXSEQ_DEBUG", None)
    return subprocess.run([sys.executable, str(ROOT / "experiments" / name), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=full, timeout=600, input=stdin)


def assert_user_error(r, *words):
    """Exit status 2, one ``error:`` line holding every word of ``words``, no traceback."""
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stderr[-2000:]}"
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    for w in words:
        assert w in errors[0], errors[0]
