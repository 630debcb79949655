"""experiments/row_lstm.py through its real entry point on tiny synthetic IDX files (real Fashion-MNIST /
MNIST are not needed): train, resume a finished run, eval, export; the MNIST 8k/2k t10k split is said in
the result; bad inputs as one error line with exit status 2."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import ROOT, assert_user_error, run_script
from jaxseq.data.mnist import write_idx

TINY = ["--steps", "4", "--batch-size", "8", "--hidden", "8", "--no-progress"]
SHIPPED = ROOT / "ckpt" / "row_lstm" / "fashion-mnist"


def cli(*args, **kw):
    return run_script("row_lstm.py", *args, **kw)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    for name, splits in (("fashion-mnist", {"train": 64, "t10k": 20}), ("mnist", {"t10k": 50})):
        (root / name).mkdir()
        for split, n in splits.items():
            write_idx(root / name / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), np.uint8))
            write_idx(root / name / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    return root


def test_train_eval_export(data_dir, tmp_path):
    run = tmp_path / "run"
    for _ in range(2):   # the second run finds the run finished and only tests
        r = cli("train", "--data-dir", data_dir, *TINY, "--ckpt-dir", run, "--out", tmp_path / "r.json")
        assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["step"] == 4 and res["n_test"] == 20 and res["n_train"] == 64 and "standard split" in res["split"]
    assert 0 <= res["test_accuracy"] <= 1 and np.asarray(res["confusion"]).sum() == 20
    r = cli("eval", "--ckpt", run, "--data-dir", data_dir)
    assert r.returncode == 0 and json.loads(r.stdout)["test_accuracy"] == res["test_accuracy"], r.stderr[-3000:]
    r = cli("export", "--ckpt", run, "--out", tmp_path / "exp", "--dtype", "bfloat16")
    assert r.returncode == 0, r.stderr[-3000:]
    r = cli("train", "--data", "mnist", "--data-dir", data_dir, *TINY, "--ckpt-dir", tmp_path / "m")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res["n_train"] == 40 and res["n_test"] == 10 and "NOT the standard split" in res["split"]


def test_bad_inputs_exit_2_with_one_error_line(data_dir, tmp_path):
    (tmp_path / "nowhere").mkdir()
    r = cli("train", "--data-dir", tmp_path / "nowhere", *TINY, "--ckpt-dir", tmp_path / "r",
            JAXSEQ_DATA=str(tmp_path / "nowhere"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert_user_error(r, "fashion-mnist", "nowhere")
    r = cli("train", "--data-dir", data_dir, *TINY, "--steps", "0", "--ckpt-dir", tmp_path / "r")
    assert_user_error(r, "--steps 0")
    r = cli("eval", "--ckpt", tmp_path / "nothing")
    assert_user_error(r, "nothing")


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="ckpt/row_lstm/fashion-mnist not shipped in this checkout")
def test_shipped_checkpoint_loads(tmp_path):
    from jaxseq import row_lstm
    clf = row_lstm.load()
    assert clf.classes[9] == "Ankle boot" and clf.predict(np.zeros((2, 28, 28), np.uint8)).shape == (2,)
