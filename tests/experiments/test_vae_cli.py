"""experiments/vae.py through its real entry point on a tiny slice of real Fashion-MNIST (skipped without
$JAXSEQ_DATA), the finished run read back with ``jaxseq.vae.load``, and bad inputs (exit 2, one
``error:`` line)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import assert_user_error, run_script

TINY = ["--data", "fashion-mnist", "--t10k-split", "0.5", "--epochs", "0.05", "--batch-size", "64",
        "--hidden", "32", "--z-dim", "2", "--iw-k", "100", "--eval-n", "500"]


def cli(*args, **env):
    return run_script("vae.py", *args, **env)


def test_tiny_cvae_then_load_and_sample(data_dir, tmp_path):
    r = cli("--data-dir", data_dir, *TINY, "--conditional", "--out", tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "results.json").read_text())
    assert "NOT the standard split" in res["split"] and res["model"] == "CVAE" and res["n_scored"] == 500
    assert 0 < res["test_iw_nll"] <= -res["test_elbo"] + 1.0  # IW bound tighter than the ELBO
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        f"vae_fashionmnist_cvae_z2_{k}.png" for k in ("manifold", "recon", "samples")]
    from jaxseq import vae
    m = vae.load(tmp_path / "ckpt")
    assert m.conditional and m.config.z_dim == 2 and m.config.hidden == (32,)
    s = m.sample(10, labels=np.arange(10), seed=0)
    assert s.shape == (10, 784) and 0 <= s.min() and s.max() <= 1


@pytest.mark.slow  # ~40 s: a plain VAE, then the same command finds it finished and only evaluates
def test_rerun_evaluates_the_finished_run(data_dir, tmp_path):
    runs = []
    for _ in range(2):
        r = cli("--data-dir", data_dir, *TINY, "--out", tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
        runs.append(json.loads((tmp_path / "results.json").read_text()))
    assert runs[0]["model"] == "VAE" and runs[0]["final_train_loss"] is not None
    assert runs[1]["final_train_loss"] is None                       # no training step the second time
    assert runs[1]["test_elbo"] == pytest.approx(runs[0]["test_elbo"], rel=1e-6)   # the same model


def test_bad_inputs_exit_2_with_one_error_line(tmp_path):
    empty = tmp_path / "empty"
    (empty / "mnist").mkdir(parents=True)
    for args, what in ((["--data", "mnist", "--data-dir", empty], "train-images-idx3-ubyte"),
                       (["--hidden", "a,b"], "--hidden"),
                       (["--iw-k", "150"], "multiple of 100"),
                       (["--time-budget", "-1"], "--time-budget")):
        r = cli(*args, "--out", tmp_path / "o", JAXSEQ_DATA=str(empty), XDG_CACHE_HOME=str(empty))
        assert_user_error(r, what)


def test_help_shows_defaults():
    r = cli("--help")
    assert r.returncode == 0 and "--conditional" in r.stdout and "(default: 512,256)" in r.stdout
