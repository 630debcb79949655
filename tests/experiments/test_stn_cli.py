"""experiments/stn.py through its real entry point on a tiny run on the real MNIST t10k split (skipped
without $JAXSEQ_DATA), the finished run read back with ``jaxseq.models.stn.load``, and bad inputs (exit 2,
one ``error:`` line)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import assert_user_error, run_script

TINY = ["--t10k-split", "0.9", "--epochs", "0.02", "--batch-size", "32"]   # 5 steps, 1,000 test digits


def cli(*args, **env):
    return run_script("stn.py", *args, **env)


def test_tiny_train_then_load_predict_and_warp(data_dir, tmp_path):
    r = cli("train", "--data-dir", data_dir, *TINY, "--out", tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["model"] == "STN + CNN" and res["n_test"] == 1000 and res["steps"] == 5
    assert "NOT the standard split" in res["data"] and 0.0 <= res["test_acc"] <= 1.0
    for fig in ("warp", "grids"):
        assert (tmp_path / f"stn_mnist_{fig}.png").stat().st_size < 300_000
    from jaxseq.models import stn
    m = stn.load(tmp_path / "ckpt")
    x = np.zeros((3, 28, 28), np.uint8)
    x[:, 8:20, 12:16] = 255
    assert m.has_stn and m.predict(x).shape == (3,)
    warped, theta = m.warp(x)
    assert warped.shape == (3, 28, 28, 1) and theta.shape == (3, 2, 3)
    assert m.distort(x).shape == (3, 28, 28, 1)


@pytest.mark.slow  # ~60 s: the CNN alone, the same command again (scores only), then eval
def test_no_stn_and_eval(data_dir, tmp_path):
    r = cli("train", "--data-dir", data_dir, *TINY, "--no-stn", "--out", tmp_path / "cnn")
    assert r.returncode == 0, r.stderr[-3000:]
    first = json.loads((tmp_path / "cnn" / "results.json").read_text())
    assert first["model"] == "CNN" and first["finished"]
    r = cli("train", "--data-dir", data_dir, *TINY, "--no-stn", "--out", tmp_path / "cnn")   # finished: score only
    assert r.returncode == 0, r.stderr[-3000:]
    again = json.loads((tmp_path / "cnn" / "results.json").read_text())
    assert again["final_train_loss"] is None and again["test_acc"] == first["test_acc"]
    assert not list((tmp_path / "cnn").glob("*.png"))             # no warp to show
    r = cli("eval", "--data-dir", data_dir, "--ckpt", tmp_path / "cnn" / "ckpt", "--out", tmp_path / "ev")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "distorted test accuracy" in r.stdout
    assert json.loads((tmp_path / "ev" / "results.json").read_text())["cnn"]["n_test"] == 1000


def test_bad_inputs_exit_2_with_one_error_line(tmp_path):
    empty = tmp_path / "empty"
    (empty / "mnist").mkdir(parents=True)
    for args, what in ((["train", "--data-dir", empty], "t10k-images-idx3-ubyte"),
                       (["train", "--scale-min", "2"], "--scale-min"),
                       (["train", "--time-budget", "-1"], "--time-budget"),
                       (["eval", "--ckpt", empty / "nothing"], "no spatial-transformer checkpoint")):
        r = cli(*args, "--out", tmp_path / "o", JAXSEQ_DATA=str(empty), XDG_CACHE_HOME=str(empty))
        assert_user_error(r, what)


def test_help_shows_defaults():
    r = cli("train", "--help")
    assert r.returncode == 0 and "--no-stn" in r.stdout and "(default: 45.0)" in r.stdout
