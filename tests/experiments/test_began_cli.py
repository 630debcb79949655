"""experiments/began.py through its real entry point, on the CelebA fixture in the official format
(tests/fixtures/celeba: CelebA itself is not available here): train a tiny BEGAN on 8x8 faces, with the
M_global and progression figures, then sample from the run; bad inputs as one error line, exit status 2."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cli_helpers import assert_user_error, run_script

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = ["--data", "celeba", "--size", "8", "--h", "4", "--n", "4", "--batch-size", "2", "--steps", "2",
        "--log-every", "1", "--n-fixed", "4", "--no-progress"]


def cli(*args, **kw):
    return run_script("began.py", *args, **kw)


def test_train_on_celeba_fixture_and_sample(tmp_path):
    run = tmp_path / "run"
    r = cli("train", "--data-dir", FIXTURES, *TINY, "--gamma", "0.7", "--ckpt-dir", run)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res["step"] == 2 and res["n_train"] == 4 and "m_global" in res and 0 <= res["k"] <= 1
    assert (run / "convergence.png").stat().st_size > 1000 and (run / "progression.png").exists()
    r = cli("sample", "--ckpt", run, "--n", "4", "--out", tmp_path / "s.png", "--npy", tmp_path / "s.npy")
    assert r.returncode == 0, r.stderr[-3000:]
    assert np.load(tmp_path / "s.npy").shape == (4, 8, 8, 3)


def test_bad_inputs_exit_2_with_one_error_line(tmp_path):
    (tmp_path / "nowhere").mkdir()
    r = cli("train", "--data-dir", tmp_path / "nowhere", *TINY, "--ckpt-dir", tmp_path / "r",
            JAXSEQ_DATA=str(tmp_path / "nowhere"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert_user_error(r, "img_align_celeba.zip", "cannot be downloaded by script")
    r = cli("train", "--data-dir", FIXTURES, *TINY, "--gamma", "1.5", "--ckpt-dir", tmp_path / "r")
    assert_user_error(r, "--gamma 1.5")
    r = cli("sample", "--ckpt", tmp_path / "nothing")
    assert_user_error(r, "nothing")
