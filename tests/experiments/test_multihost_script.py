"""Every training script as a two-process jax.distributed CPU job (2 processes × 2 devices) gives the
same losses as one process with 4 devices: each process loads only its block of every global batch
(``batch_indices`` or ``batching.process_rows``), the trainer builds the global batch from the blocks,
evaluation splits its rows, and process 0 alone writes the result files. The scripts run for real:
``_cli.run`` joins the job from the JAX_* environment variables (``maybe_initialize_distributed``).
The vae test also records the rows each process feeds (a small launcher around the script)."""
from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np
import pytest

from experiments.toy_data import play_cache, sketch_npz
from training.helpers.jobs import ROOT, cpu_env, run_job

pytestmark = [pytest.mark.slow,   # three processes of a real script each: ~1 min on a 2-core machine
              pytest.mark.skipif(jax.default_backend() != "cpu", reason="a jax.distributed CPU job")]

EXP = ROOT / "experiments"
LAUNCH = """
import atexit, os, runpy, sys
from jaxseq.training import loop
rows, real = set(), loop.shard_batch
def shard_batch(batch, mesh):   # records the rows batch_fn gave this process and the global batch
    out = real(batch, mesh)
    rows.add((len(batch["x"]), out["x"].shape[0]))
    return out
loop.shard_batch = shard_batch
atexit.register(lambda: print("ROWS", sorted(rows), file=sys.__stdout__, flush=True))  # not silenced
sys.path.insert(0, os.path.dirname(sys.argv[1]))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def one_and_two(tmp_path, argv):
    """``argv(out)`` run as a 2-process job into ``tmp_path/two`` and as one 4-device process into
    ``tmp_path/one``; returns ``(two, one, outputs of the job, output of the single run)``."""
    outs = run_job(lambda i, port: argv(tmp_path / "two"), timeout=560)
    single = subprocess.run(argv(tmp_path / "one"), cwd=ROOT, env=cpu_env(4), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=560)
    assert single.returncode == 0, single.stdout[-3000:]
    return tmp_path / "two", tmp_path / "one", outs, single.stdout


def losses(path, keys=("loss",)):
    """``[(step, key, value)]`` of the history rows in ``path`` holding ``keys``."""
    return [(r["step"], k, r[k]) for r in json.loads(path.read_text()) for k in keys if k in r]


def assert_same(a, b, rel=1e-4):
    """The same steps and keys, values equal to float32 rounding (another reduction layout)."""
    assert [x[:2] for x in a] == [x[:2] for x in b] and a, (a, b)
    np.testing.assert_allclose([x[2] for x in a], [x[2] for x in b], rtol=rel)


def test_vae(data_dir, tmp_path):
    tiny = ["--data", "fashion-mnist", "--t10k-split", "0.5", "--epochs", "0.4", "--batch-size", "64",
            "--hidden", "32", "--z-dim", "2", "--iw-k", "100", "--eval-n", "200"]
    two, one, outs, out = one_and_two(tmp_path, lambda o: [
        sys.executable, "-c", LAUNCH, str(EXP / "vae.py"), "--data-dir", str(data_dir), *tiny, "--out", str(o)])
    r2, r1 = (json.loads((d / "results.json").read_text()) for d in (two, one))
    assert r2["steps"] == r1["steps"] == 31
    # each process loaded 32 rows of every 64-row global batch, which the trainer put together
    assert all("ROWS [(32, 64)]" in o for o in outs) and "ROWS [(64, 64)]" in out
    for k in ("final_train_loss", "test_elbo", "test_iw_nll"):
        assert r2[k] == pytest.approx(r1[k], rel=1e-5), k


def test_mdn_toy(tmp_path):
    two, one, _, _ = one_and_two(tmp_path, lambda o: [
        sys.executable, str(EXP / "mdn_toy.py"), "--n-train", "200", "--n-test", "300", "--hidden", "8",
        "--n-mix", "3", "--steps", "30", "--out", str(o)])
    r2, r1 = (json.loads((d / "results.json").read_text()) for d in (two, one))
    for k in ("regression_mse", "gauss_nll", "mdn_nll"):
        assert r2[k] == pytest.approx(r1[k], rel=1e-4), k
    assert (two / "mdn_toy.png").is_file()


def test_handwriting(tmp_path):
    two, one, _, _ = one_and_two(tmp_path, lambda o: [
        sys.executable, str(EXP / "handwriting.py"), "train", "--synthetic", "40", "--batch-size", "8",
        "--max-len", "40", "--hidden", "8", "--layers", "2", "--n-mix", "2", "--n-gauss", "2",
        "--min-char-count", "1", "--unroll", "1", "--no-progress", "--samples", "1", "--compile-cache", "",
        "--eval-batches", "1", "--warmup", "0", "--steps", "4", "--eval-every", "2", "--log-every", "1",
        "--ckpt-dir", str(o)])
    keys = ("loss", "val_nll_point")
    assert_same(losses(two / "history.json", keys), losses(one / "history.json", keys))
    assert sorted(p.name for p in (two / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]


def test_sketch_rnn(tmp_path):
    data = sketch_npz(tmp_path / "toy.npz")
    # --no-augment: the augmentation's random draws run over this process's rows only (see the report)
    two, one, _, _ = one_and_two(tmp_path, lambda o: [
        sys.executable, str(EXP / "sketch_rnn.py"), "train", "--data", str(data), "--max-len", "16",
        "--steps", "4", "--eval-every", "2", "--log-every", "1", "--samples", "2", "--sample-every", "2",
        "--no-augment", "--enc-size", "8", "--dec-size", "16", "--z-size", "4", "--n-mix", "3",
        "--batch-size", "4", "--no-progress", "--ckpt-dir", str(o)])
    keys = ("loss", "val_loss")
    assert_same(losses(two / "history.json", keys), losses(one / "history.json", keys))
    assert len(list((two / "samples").iterdir())) == 2


def test_nmt_luong(data_dir, tmp_path):
    two, one, _, _ = one_and_two(tmp_path, lambda o: [
        sys.executable, str(EXP / "nmt_luong.py"), "--data-dir", str(data_dir), "--steps", "3",
        "--hidden", "16", "--emb", "8", "--batch-size", "8", "--no-bidirectional", "--eval-every", "0",
        "--ckpt-every", "0", "--eval-sentences", "8", "--test-sentences", "8", "--beam", "1",
        "--plots", "1", "--out", str(o / "run"), "--export", str(o / "export")])
    keys = ("loss", "val_loss", "val_acc")
    assert_same(losses(two / "run" / "history.json", keys), losses(one / "run" / "history.json", keys))
    r2, r1 = (json.loads((d / "run" / "test_results.json").read_text()) for d in (two, one))
    assert r2["steps"] == r1["steps"] == 3 and r2["bleu_greedy"] == pytest.approx(r1["bleu_greedy"])
    assert (two / "export").is_dir()   # the export's Orbax save, with every process taking part


def test_scheduled_sampling(tmp_path):
    cache = play_cache(tmp_path / "small.npz")
    two, one, _, _ = one_and_two(tmp_path, lambda o: [
        sys.executable, str(EXP / "scheduled_sampling.py"), "--data", str(cache), "--mode", "ss",
        "--steps", "4", "--eval-every", "2", "--hidden", "16", "--embed", "8", "--seq-len", "20",
        "--batch-size", "4", "--n-samples", "2", "--sample-len", "20", "--out", str(o)])
    keys = ("loss", "val_bits_per_char")
    assert_same(losses(two / "history_ss.json", keys), losses(one / "history_ss.json", keys))
    assert (two / "results.json").is_file() and (two / "ss_curves.png").is_file()
