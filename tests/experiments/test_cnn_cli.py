"""experiments/cnn.py through its real entry point: a tiny Fashion-MNIST run exported with its test
accuracy and Fréchet reference, read back by ``eval`` and the Python API, a tiny transfer run from it
(skipped without $JAXSEQ_DATA); the CIFAR-10 code path on a fixture folder in the official format (random
pixels: it checks the path, not learning); bad inputs (exit 2, one ``error:`` line)."""
from __future__ import annotations

import json

import numpy as np

from cli_helpers import assert_user_error, run_script
from fixtures.cifar10_fixture import write_fixture

TINY = ["--epochs", "0.005", "--batch-size", "32", "--eval-every", "5", "--channels", "2,4",
        "--hidden", "8,6"]


def cli(*args, **env):
    return run_script("cnn.py", *args, **env)


def test_train_export_eval_transfer(data_dir, tmp_path):
    out, exp = tmp_path / "run", tmp_path / "exp"
    r = cli("train", "--data-dir", data_dir, *TINY, "--out", out, "--export", exp)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert res["n_test"] == 10000 and 0.0 <= res["test_acc"] <= 1.0 and res["export_dtype"] == "bfloat16"
    assert res["frechet"]["feature_dim"] == 6 and res["frechet"]["n"] == 10000 and res["frechet"]["test"] >= 0
    r = cli("eval", "--ckpt", exp, "--data-dir", data_dir)
    assert r.returncode == 0, r.stderr[-3000:]
    ev = json.loads(r.stdout[r.stdout.index("{"):])
    assert abs(ev["test_acc"] - res["export_test_acc"]) < 1e-9
    from jaxseq.models.cnn import api
    clf = api.load(exp)
    assert clf.predict(np.zeros((3, 28, 28), np.uint8)).shape == (3,)
    r = cli("transfer", "--pretrained", exp, "--data-dir", data_dir, "--epochs", "0.02", "--modes",
            "frozen", "--out", tmp_path / "tr")
    assert r.returncode == 0, r.stderr[-3000:]
    tr = json.loads((tmp_path / "tr" / "transfer_results.json").read_text())
    assert tr["frozen"]["body_unchanged"] is True and "NOT the standard split" in tr["frozen"]["split"]
    r = cli("train", "--data-dir", data_dir, *TINY, "--out", out)          # finished: resumes, evaluates
    assert r.returncode == 0 and "resumed" in r.stderr, r.stderr[-3000:]


def test_cifar10_code_path_on_fixture(tmp_path):
    write_fixture(tmp_path / "cifar", n=40, extracted=True)
    r = cli("train", "--data", "cifar10", "--size", "32", "--cifar-path", tmp_path / "cifar", "--epochs",
            "1", "--batch-size", "16", "--eval-every", "100", "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["data"] == "cifar10" and res["n_test"] == 40 and res["steps"] == 11   # 180 train / 16


def test_bad_inputs(tmp_path):
    assert_user_error(cli("train", "--channels", "six", "--out", tmp_path), "--channels")
    assert_user_error(cli("train", "--data", "cifar10", "--size", "28", "--out", tmp_path), "32")
    assert_user_error(cli("train", "--data", "cifar10", "--size", "32", "--cifar-path", tmp_path / "nope",
                          "--out", tmp_path), "nope", "does not exist")
    assert_user_error(cli("eval", "--ckpt", tmp_path / "missing"), "no CNN checkpoint")
    assert_user_error(cli("transfer", "--modes", "frozen,partial", "--out", tmp_path), "--modes")
    r = cli("--help")
    assert r.returncode == 0 and "transfer" in r.stdout
    r = cli("transfer", "--help")
    assert "(default: 4.0)" in r.stdout and "--time-budget" in r.stdout
