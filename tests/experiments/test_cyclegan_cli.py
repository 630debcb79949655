"""experiments/cyclegan.py through its real entry point: --help, user errors, and (with Fashion-MNIST
present) a tiny train -> translate -> evaluate -> export round."""
import json

import numpy as np
import pytest
from cli_helpers import assert_user_error, run_script

from jaxseq.data import mnist

HAVE_DATA = mnist.has_split("fashion-mnist", "train") and mnist.has_split("fashion-mnist", "test")
TINY = ["--ngf", "4", "--n-down", "1", "--n-res", "1", "--ndf", "4", "--d-layers", "1", "--batch-size", "2",
        "--log-every", "1", "--eval-n", "8"]


def test_help_shows_defaults():
    r = run_script("cyclegan.py", "train", "--help")
    assert r.returncode == 0, r.stderr
    for text in ("--lambda-cyc", "(default: 10.0)", "--beta1", "(default: 0.5)", "--time-budget",
                 "--pool-size", "(default: 50)", "horse2zebra"):
        assert text in r.stdout, text
    r = run_script("cyclegan.py", "--help")
    assert r.returncode == 0 and "translate" in r.stdout and "sneakers" in r.stdout


def test_user_errors(tmp_path):
    assert_user_error(run_script("cyclegan.py", "train", "--domain-a", "9", "--out", tmp_path / "r"),
                      "--domain-a", "different")
    assert_user_error(run_script("cyclegan.py", "translate", "--ckpt", tmp_path / "none", "--input",
                                 tmp_path / "x.npy", "--out", tmp_path / "y.npy"), "no CycleGAN checkpoint")


needs_data = pytest.mark.skipif(not HAVE_DATA, reason="Fashion-MNIST (train and test) not found in the "
                                                       "data directories")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cg") / "run"
    r = run_script("cyclegan.py", "train", "--steps", "2", *TINY, "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@needs_data
def test_train_and_translate(trained, tmp_path):
    out = trained
    res = json.loads((out / "results.json").read_text())
    assert res["steps"] == 2 and res["n_test_a"] == 8 and 0 <= res["cycle_l1_a"] <= 1
    assert "unpaired" in res["split"]
    for name in ("cyclegan_a2b.png", "cyclegan_b2a.png", "cyclegan_losses.png"):
        assert (out / name).stat().st_size > 1000
    np.save(tmp_path / "in.npy", np.zeros((3, 28, 28), np.uint8))
    r = run_script("cyclegan.py", "translate", "--ckpt", out / "ckpt", "--input", tmp_path / "in.npy",
                   "--out", tmp_path / "t.npy", "--direction", "b2a")
    assert r.returncode == 0, r.stderr[-3000:]
    assert np.load(tmp_path / "t.npy").shape == (3, 28, 28)


@needs_data
@pytest.mark.slow
def test_translate_png_export_evaluate(trained, tmp_path):
    out = trained
    r = run_script("cyclegan.py", "translate", "--ckpt", out / "ckpt", "--from-test", "4",
                   "--out", tmp_path / "t.png")
    assert r.returncode == 0 and (tmp_path / "t.png").exists(), r.stderr[-3000:]
    assert_user_error(run_script("cyclegan.py", "translate", "--ckpt", out / "ckpt", "--from-test", "4",
                                 "--out", tmp_path / "t.txt"), ".npy or .png")
    r = run_script("cyclegan.py", "export", "--ckpt", out / "ckpt", "--out", tmp_path / "exp")
    assert r.returncode == 0, r.stderr[-3000:]
    r = run_script("cyclegan.py", "evaluate", "--ckpt", tmp_path / "exp", "--eval-n", "8", "--out",
                   tmp_path / "e.json")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / "e.json").read_text())["step"] == 2
