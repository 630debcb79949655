"""experiments/dcgan.py through its real entry point on tiny synthetic IDX files (Fashion-MNIST itself is
not needed): train a tiny DCGAN, export the generator, sample a grid; resume and the Fréchet distance
(slow); bad inputs as one error line with exit status 2."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import ROOT, assert_user_error, run_script
from jaxseq.data.mnist import write_idx

TINY = ["--nz", "8", "--ngf", "4", "--ndf", "4", "--batch-size", "8", "--steps", "3", "--sample-every", "2",
        "--log-every", "1", "--n-fixed", "8", "--no-progress"]


def cli(*args, **kw):
    return run_script("dcgan.py", *args, **kw)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    (root / "fashion-mnist").mkdir()
    for split, n in (("train", 48), ("t10k", 40)):
        write_idx(root / "fashion-mnist" / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), np.uint8))
        write_idx(root / "fashion-mnist" / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    return root


def test_train_export_sample(data_dir, tmp_path):
    run = tmp_path / "run"
    r = cli("train", "--data-dir", data_dir, *TINY, "--ckpt-dir", run)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res["step"] == 3 and res["snapshots"] == [0, 2, 3] and res["n_train"] == 48
    assert (run / "progression.png").stat().st_size > 1000 and (run / "fixed" / "step_0000003.png").exists()
    r = cli("export", "--ckpt", run, "--out", tmp_path / "gen")
    assert r.returncode == 0 and "bfloat16" in r.stdout, r.stderr[-3000:]
    r = cli("sample", "--ckpt", tmp_path / "gen", "--n", "6", "--cols", "3", "--out", tmp_path / "s.png",
            "--npy", tmp_path / "s.npy")
    assert r.returncode == 0, r.stderr[-3000:]
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (6, 32, 32, 1) and (tmp_path / "s.png").stat().st_size > 200


@pytest.mark.slow
def test_resume_and_frechet_distance(data_dir, tmp_path):
    run = tmp_path / "run"
    for steps in ("3", "4"):
        r = cli("train", "--data-dir", data_dir, *TINY, "--steps", steps, "--ckpt-dir", run)
        assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["step"] == 4
    r = cli("fd", "--ckpt", run, "--n", "60", "--data-dir", data_dir, "--out", tmp_path / "fd.json")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "fd.json").read_text())
    assert res["n_samples"] == 60 and res["n_test"] == 40 and res["fd"] > 0


def test_sample_from_the_shipped_generator(tmp_path):
    if not (ROOT / "ckpt" / "dcgan" / "fashion-mnist").is_dir():
        pytest.skip("ckpt/dcgan/fashion-mnist is not shipped yet")
    r = cli("sample", "--n", "4", "--out", tmp_path / "s.png", "--npy", tmp_path / "s.npy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert np.load(tmp_path / "s.npy").shape == (4, 32, 32, 1)


def test_bad_inputs_exit_2_with_one_error_line(data_dir, tmp_path):
    (tmp_path / "nowhere").mkdir()
    r = cli("train", "--data-dir", tmp_path / "nowhere", *TINY, "--ckpt-dir", tmp_path / "r",
            JAXSEQ_DATA=str(tmp_path / "nowhere"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert_user_error(r, "fashion-mnist", "nowhere")
    r = cli("train", "--data-dir", data_dir, *TINY, "--size", "24", "--ckpt-dir", tmp_path / "r")
    assert_user_error(r, "--size 24")
    r = cli("sample", "--ckpt", tmp_path / "nothing")
    assert_user_error(r, "nothing")
