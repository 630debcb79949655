"""experiments/gan.py through its real entry point: a tiny CGAN on real Fashion-MNIST (skipped without
$JAXSEQ_DATA), its generator exported, sampled, drawn and read back with the API; --help; bad inputs
(exit 2, one ``error:`` line)."""
from __future__ import annotations

import json

import numpy as np

from cli_helpers import assert_user_error, run_script

# 20 steps of 64 images in 2 chunks of 10: one compiled scan
TINY = ["--epochs", "0.0214", "--chunk", "10", "--hidden", "16", "--no-progress"]


def cli(*args, **env):
    return run_script("gan.py", *args, **env)


def test_tiny_cgan_train_export_sample_figures(data_dir, tmp_path):
    out = tmp_path / "run"
    r = cli("train", "--model", "cgan", "--data-dir", data_dir, *TINY, "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "trained 20 of 20 steps" in r.stdout and (out / "gan_cgan_classes.png").stat().st_size < 300_000
    hist = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in hist] == [10, 20] and {"d_loss", "g_loss", "d_real"} <= set(hist[0])
    r = cli("curves", "--runs", out, "--out", tmp_path / "curves.png")
    assert r.returncode == 0 and (tmp_path / "curves.png").exists(), r.stderr[-2000:]
    r = cli("export", "--ckpt", out / "ckpt", "--out", tmp_path / "gen", "--dtype", "float16")
    assert r.returncode == 0 and "step 20" in r.stdout, r.stderr[-2000:]
    r = cli("sample", "--ckpt", tmp_path / "gen", "--n", "12", "--labels", "7", "--out", tmp_path / "s.png")
    assert r.returncode == 0 and (tmp_path / "s.png").exists(), r.stderr[-2000:]
    from jaxseq.models.gan import api
    m = api.load(tmp_path / "gen")
    assert m.kind == "cgan" and m.config.hidden == 16 and m.meta["param_dtype"] == "float16"
    s = m.sample(10, key=0, labels=np.arange(10))
    assert s.shape == (10, 28, 28) and 0 <= s.min() and s.max() <= 1
    r = cli("score", "--ckpt", tmp_path / "gen", "--n", "200", "--data-dir", data_dir, "--json", tmp_path / "fd.json")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "fd.json").read_text())
    assert res["frechet"] > res["real_data_reference"] > 0 and len(res["class_accuracy"]) == 10
    for args, what in ((["sample", "--ckpt", tmp_path / "gen", "--labels", "10"], "0..9"),
                       (["export", "--ckpt", out / "ckpt", "--out", tmp_path / "gen"], "already holds")):
        assert_user_error(cli(*args, "--out", tmp_path / "x.png") if args[0] == "sample" else cli(*args), what)


def test_bad_inputs_exit_2_with_one_error_line(tmp_path):
    empty = tmp_path / "empty"
    (empty / "fashion-mnist").mkdir(parents=True)
    env = dict(JAXSEQ_DATA=str(empty), XDG_CACHE_HOME=str(empty))
    for args, what in ((["train", "--data-dir", empty, "--out", tmp_path / "o"], "train-images-idx3-ubyte"),
                       (["train", "--epochs", "0", "--out", tmp_path / "o"], "--epochs"),
                       (["train", "--time-budget", "-1", "--out", tmp_path / "o"], "--time-budget"),
                       (["sample", "--ckpt", tmp_path / "nothing"], "no GAN checkpoint")):
        assert_user_error(cli(*args, **env), what)


def test_help_shows_defaults():
    r = cli("train", "--help")
    assert r.returncode == 0 and "--model" in r.stdout and "(default: gan)" in r.stdout
    assert "--time-budget" in r.stdout and "(default: 128)" in r.stdout
    r = cli("--help")
    assert r.returncode == 0 and all(c in r.stdout for c in ("train", "sample", "export", "figures", "score"))


def test_sample_the_shipped_cgan_without_data(tmp_path):
    r = cli("sample", "--ckpt", "cgan", "--labels", "7", "--n", "8", "--out", tmp_path / "s.png",
            cwd=tmp_path, JAXSEQ_DATA=str(tmp_path / "none"))
    assert r.returncode == 0 and (tmp_path / "s.png").stat().st_size > 0, r.stderr[-2000:]
