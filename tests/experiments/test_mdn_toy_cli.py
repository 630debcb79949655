"""experiments/mdn_toy.py through its real entry point with a tiny config (results.json and the figure),
and bad inputs (exit 2, one ``error:`` line)."""
from __future__ import annotations

import json

import pytest
from cli_helpers import assert_user_error, run_script


def cli(*args, **env):
    return run_script("mdn_toy.py", *args, **env)


def test_tiny_run_writes_results_and_figure(tmp_path):
    r = cli("--n-train", "200", "--n-test", "300", "--hidden", "8", "--n-mix", "3", "--steps", "30",
            "--out", tmp_path / "toy")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "toy" / "results.json").read_text())
    assert {"regression_mse", "gauss_nll", "mdn_nll", "true_conditional_nll"} <= set(res)
    assert res["config"]["steps"] == 30 and (tmp_path / "toy" / "mdn_toy.png").stat().st_size > 1000


@pytest.mark.slow   # the same check runs by default in tests/test_bad_inputs.py (mdn_steps_negative)
def test_bad_inputs_exit_2_with_one_error_line(tmp_path):
    for args, what in ((["--n-mix", "0"], "--n-mix 0"), (["--lr", "-1"], "--lr -1")):
        r = cli(*args, "--out", tmp_path)
        assert_user_error(r, what)


def test_usage_error_is_argparse_s_own():
    r = cli("--steps", "ten")
    assert r.returncode == 2 and "invalid int value" in r.stderr


def test_help_shows_defaults():
    r = cli("--help")
    assert r.returncode == 0 and "(default: 4000)" in r.stdout and "--n-mix" in r.stdout
