"""experiments/mdn_toy.py through its real entry point with a tiny config (results.json and the figure),
and bad inputs (exit 2, one ``error:`` line)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "mdn_toy.py"


def cli(*args):
    env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)


def test_tiny_run_writes_results_and_figure(tmp_path):
    r = cli("--n-train", "200", "--n-test", "300", "--hidden", "8", "--n-mix", "3", "--steps", "30",
            "--out", tmp_path / "toy")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "toy" / "results.json").read_text())
    assert {"regression_mse", "gauss_nll", "mdn_nll", "true_conditional_nll"} <= set(res)
    assert res["config"]["steps"] == 30 and (tmp_path / "toy" / "mdn_toy.png").stat().st_size > 1000


def test_bad_inputs_exit_2_with_one_error_line(tmp_path):
    for args, what in ((["--n-mix", "0"], "n_mix"), (["--lr", "-1"], "lr")):
        r = cli(*args, "--out", tmp_path)
        assert r.returncode == 2, (args, r.stderr[-2000:])
        lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and what in lines[0] and "Traceback" not in r.stderr
    r = cli("--steps", "ten")
    assert r.returncode == 2 and "invalid int value" in r.stderr   # argparse's own usage error


def test_help_shows_defaults():
    r = cli("--help")
    assert r.returncode == 0 and "(default: 4000)" in r.stdout and "--n-mix" in r.stdout
