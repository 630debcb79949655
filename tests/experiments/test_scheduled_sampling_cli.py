"""experiments/scheduled_sampling.py through its real entry point (the README's command crashed once
because a name in ``__main__`` shadowed the script's own function): a tiny run, then ``sample``, and
one bad input."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import assert_user_error, run_script
from jaxseq.data import shakespeare

TINY = ["--steps", "4", "--eval-every", "2", "--hidden", "16", "--embed", "8", "--seq-len", "20",
        "--batch-size", "4", "--n-samples", "2", "--sample-len", "20"]


def cli(*args, **env):
    return run_script("scheduled_sampling.py", *args, **env)


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory):
    """A 20k-character cache: real text when $JAXSEQ_DATA has it, else a synthetic play."""
    root = os.environ.get("JAXSEQ_DATA")
    path = Path(root or "/nonexistent") / "tinyshakespeare" / "input.txt"
    text = path.read_text(encoding="utf-8")[:20000] if path.exists() else \
        "".join(f"KING {i % 7}:\nTo be, or not to be, that is the question {i}.\n\n" for i in range(400))
    ids, cs = shakespeare.encode_text(text)
    return shakespeare.write_cache(tmp_path_factory.mktemp("ss") / "small.npz", ids, cs)


def test_train_then_sample(small_cache, tmp_path):
    out = tmp_path / "out"
    r = cli("--data", small_cache, "--mode", "tf", *TINY, "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert 0 < res["tf"]["val_bits_per_char"] < 8 and "ss" not in res
    assert (out / "ss_curves.png").stat().st_size > 1000 and "=====" in (out / "samples_tf.txt").read_text()
    hist = json.loads((out / "history_tf.json").read_text())
    assert [h["step"] for h in hist if "val_bits_per_char" in h] == [2, 4]
    r = cli("sample", "--ckpt", out / "ckpt_tf", "--prefix", "To be", "--prefix", "KING",
            "--length", "15", "--out", tmp_path / "s.txt")
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "s.txt").read_text().count("-----") == 2 and r.stdout.startswith("To be|")


def test_bad_inputs_exit_2_with_one_error_line(tmp_path):
    for args, what in ((["--data", tmp_path / "missing.npz", "--out", tmp_path / "o"], "missing.npz"),
                       (["sample", "--ckpt", tmp_path / "nothing"], "nothing"),
                       (["--schedule", "linear", "--eps-min", "2", "--data", tmp_path / "x.npz"],
                        "--eps-min 2")):
        r = cli(*args)
        assert_user_error(r, what)


def test_help_shows_defaults():
    r = cli("--help")
    assert r.returncode == 0 and "--eps-min" in r.stdout and "(default: 0.5)" in r.stdout


@pytest.mark.slow  # ~1 min: both modes, a resume of the finished runs, and the cache of the real text
def test_both_modes_and_cache_on_real_text(data_dir, tmp_path):
    cache = tmp_path / "ts.npz"
    r = cli("--data-dir", data_dir, "--cache", cache)
    assert r.returncode == 0, r.stderr[-3000:]
    ids, cs = shakespeare.read_cache(cache)
    assert len(ids) > 1_000_000 and cs.size == 66
    small = shakespeare.write_cache(tmp_path / "small.npz", ids[:30000], cs)
    out = tmp_path / "out"
    for _ in range(2):   # the second run finds both finished and only evaluates
        r = cli("--data", small, *TINY, "--out", out)
        assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert res["ss"]["val_bits_per_char"] < 8 and res["tf"]["val_bits_per_char"] < 8
    assert np.isfinite(res["ngram_bpc_of_real_val_text"]) and "=====" in (out / "samples_ss.txt").read_text()
