"""experiments/embeddings.py through its real entry point: a tiny skip-gram run on a small text file, then
neighbours and the PCA plot from its checkpoint; an unknown query word and an empty corpus are one
``error:`` line naming the value (exit 2)."""
from __future__ import annotations

import json

import pytest

from cli_helpers import assert_user_error, run_script

TINY = ["--steps", "6", "--eval-every", "3", "--dim", "8", "--batch-size", "16", "--num-sampled", "4",
        "--eval-examples", "64", "--min-count", "1", "--valid-fraction", "0.2", "--no-progress"]


def cli(*args):
    return run_script("embeddings.py", *args)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("emb")
    lines = [f"the {a} king loves the {b} queen" for a in ("old", "young", "good") for b in ("fair", "sad")]
    (d / "corpus.txt").write_text("\n".join(lines * 6) + "\n", encoding="utf-8")
    r = cli("train", "--corpus", "text", "--text", d / "corpus.txt", "--loss", "nce", *TINY, "--out", d / "run")
    assert r.returncode == 0, r.stderr[-3000:]
    return d


def test_train_writes_results(run_dir):
    res = json.loads((run_dir / "run" / "results.json").read_text())
    assert res["loss"] == "nce" and res["sampler"] == "log_uniform" and res["steps"] == 6
    assert res["heldout_nll"] > 0 and res["probe"]["pairs_known"] == 1   # king-queen
    assert "king:" in (run_dir / "run" / "neighbours.txt").read_text()


def test_neighbours_plot_and_unknown_word(run_dir):
    ck = run_dir / "run" / "ckpt"
    r = cli("neighbours", "--ckpt", ck, "king", "--k", "3")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("    king: ") and r.stdout.count("(") == 3
    assert_user_error(cli("neighbours", "--ckpt", ck, "king", "zebra"), "'zebra'")
    r = cli("plot", "--ckpt", ck, "--words", "king", "queen", "old", "young", "--out", run_dir / "p.png")
    assert r.returncode == 0 and (run_dir / "p.png").stat().st_size > 1000, r.stderr[-2000:]


def test_eval_matches_training(run_dir):
    r = cli("eval", "--ckpt", run_dir / "run" / "ckpt", "--corpus", "text", "--text", run_dir / "corpus.txt")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((run_dir / "run" / "results.json").read_text())
    assert abs(json.loads(r.stdout)["nll"] - res["heldout_nll"]) < 1e-4


def test_empty_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n!?\n", encoding="utf-8")
    assert_user_error(cli("train", "--corpus", "text", "--text", tmp_path / "empty.txt", *TINY,
                          "--out", tmp_path / "r"), "empty corpus", "empty.txt")


def test_resume(run_dir, tmp_path):
    """The same command with more steps continues from the checkpoint (a copy: other tests share it)."""
    import shutil
    shutil.copytree(run_dir / "run", tmp_path / "run")
    args = [a if a != "6" else "8" for a in TINY]
    r = cli("train", "--corpus", "text", "--text", run_dir / "corpus.txt", "--loss", "nce", *args,
            "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stderr and "at step 6" in r.stderr
    assert json.loads((tmp_path / "run" / "results.json").read_text())["steps"] == 8
