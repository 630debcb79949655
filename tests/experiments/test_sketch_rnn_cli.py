"""``python experiments/sketch_rnn.py`` through its real entry point: a tiny train on a synthetic data set,
sample from that run and from the shipped checkpoint (outside the checkout), export, user errors; the
real sheep set and the documented test losses under ``-m slow``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxseq.data import sketches as sd

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "sketch_rnn.py"
TINY = ["--enc-size", "8", "--dec-size", "16", "--z-size", "4", "--n-mix", "3", "--batch-size", "4",
        "--no-progress"]


def cli(*args, cwd=None, error=None):
    """Run the script; with ``error`` (words of the message) expect exit 2 and one ``error:`` line."""
    env = {**os.environ, "MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu"}
    env.pop("JAXSEQ_DEBUG", None)     # it would turn user errors into tracebacks
    r = subprocess.run([sys.executable, str(SCRIPT)] + [str(a) for a in args], cwd=cwd or ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    want = 0 if error is None else 2
    assert r.returncode == want, f"exit {r.returncode} (wanted {want})\n{r.stdout}\n{r.stderr}"
    if error is not None:
        said = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
        assert "Traceback" not in r.stderr and len(said) == 1 and error in said[0], r.stderr
    return r


@pytest.fixture
def toy_npz(tmp_path):
    rng = np.random.default_rng(0)

    def sketch(n):
        s = np.concatenate([rng.integers(-20, 21, (n, 2)), rng.random((n, 1)) < 0.2], 1)
        s[-1, 2] = 1
        return s
    return sd.save_npz(tmp_path / "toy.npz",
                       {k: [sketch(n) for n in rng.integers(3, 16, size=8)] for k in sd.SPLITS})


def test_train_sample_export(toy_npz, tmp_path):
    run, ship = tmp_path / "run", tmp_path / "ship"
    cli("train", "--data", toy_npz, "--max-len", "16", "--steps", "2", "--eval-every", "0", "--samples",
        "0", "--ckpt-dir", run, *TINY)
    assert (run / "2").is_dir()
    hist = json.loads((run / "history.json").read_text())
    assert hist[-1]["step"] == 2 and np.isfinite(hist[-1]["val_loss"])
    out = tmp_path / "s.svg"
    cli("sample", "--ckpt", run, "--n", "2", "--out", out)
    assert out.read_text().startswith("<svg")
    cli("export", "--ckpt", run, "--out", ship)
    assert (ship / "2").is_dir() and not (ship / "2" / "opt_state").exists()
    cli("prep", "--data", toy_npz, "--max-len", "16", "--out", tmp_path / "compact.npz")
    assert set(np.load(tmp_path / "compact.npz", allow_pickle=False)) >= {"train_points", "test_lengths"}
    cli("eval", "--ckpt", ship, "--split", "valid", "--json", tmp_path / "e.json")  # data from the meta
    m = json.loads((tmp_path / "e.json").read_text())
    assert m["step"] == 2 and np.isfinite(m["lr"]) and m["kl"] >= 0
    ft = tmp_path / "ft"   # a new run seeded from the export: step 0 + 1, fresh optimizer, lineage recorded
    cli("train", "--data", toy_npz, "--max-len", "16", "--steps", "1", "--eval-every", "0", "--samples", "0",
        "--init-from", ship, "--w-kl", "2", "--dequant", "1", "--ckpt-dir", ft, *TINY)
    from jaxseq.training.checkpoint import load_for_sampling
    _, meta = load_for_sampling(ft)
    assert meta["step"] == 1 and meta["init_from"]["step"] == 2 and meta["config"]["w_kl"] == 2
    cli("train", "--data", toy_npz, "--max-len", "16", "--steps", "1", "--init-from", ship,
        "--ckpt-dir", tmp_path / "bad", *TINY, "--enc-size", "12", error="enc_size")   # other shapes


def test_sample_shipped_outside_the_checkout(tmp_path):
    """The README's command, run from another folder: ckpt/... is found in the checkout."""
    cli("sample", "--ckpt", "ckpt/sketch_rnn/sheep", "--n", "2", "--temperature", "0.4", "--out",
        "samples/sheep.png", cwd=tmp_path)
    assert (tmp_path / "samples" / "sheep.png").read_bytes()[:4] == b"\x89PNG"


def test_user_errors(tmp_path):
    cli("sample", "--ckpt", tmp_path / "nowhere", "--out", tmp_path / "x.png", error="nowhere")
    cli("train", "--data", tmp_path / "missing.npz", "--ckpt-dir", tmp_path / "r", *TINY,
        error="missing.npz")
    cli("sample", "--n", "0", "--out", tmp_path / "x.png", error="--n 0")


@pytest.mark.slow
def test_real_data_train_eval_reconstruct_interpolate(data_dir, tmp_path):
    run, ship = tmp_path / "run", tmp_path / "ship"
    cli("train", "--data", "sheep", "--data-dir", data_dir, "--steps", "4", "--eval-every", "2",
        "--ckpt-every", "2", "--log-every", "2", "--samples", "2", "--ckpt-dir", run, *TINY)
    assert list((run / "samples").glob("step*.png"))
    cli("export", "--ckpt", run, "--out", ship)
    for extra in (["--reconstruct"], ["--interpolate"]):   # from the examples in the meta, no data
        out = tmp_path / f"{extra[0][2:]}.svg"
        cli("sample", "--ckpt", ship, "--n", "4", "--out", out, *extra)
        assert out.read_text().startswith("<svg")
    cli("eval", "--ckpt", ship, "--data-dir", data_dir, "--json", tmp_path / "e.json")
    m = json.loads((tmp_path / "e.json").read_text())
    assert np.isfinite(m["lr"]) and m["kl"] >= 0


@pytest.mark.slow
def test_shipped_test_losses_as_documented(data_dir, tmp_path):
    """docs/results_sketch_rnn.md: Lr +0.2990, L_KL 0.0190 on the 300 test sketches (z sampled)."""
    cli("eval", "--ckpt", "ckpt/sketch_rnn/sheep", "--data-dir", data_dir, "--split", "test", "--json",
        tmp_path / "e.json")
    m = json.loads((tmp_path / "e.json").read_text())
    assert m["step"] == 5684
    assert abs(m["lr"] - 0.2990) < 1e-3 and abs(m["kl"] - 0.0190) < 1e-3
