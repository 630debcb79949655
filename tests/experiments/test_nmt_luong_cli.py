"""experiments/nmt_luong.py through its real entry point: a tiny run on the real data, translation from
that run and from the shipped checkpoint, and user errors (exit 2, one ``error:`` line)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "nmt_luong.py"
TINY = ["--steps", "3", "--hidden", "16", "--emb", "8", "--batch-size", "8", "--no-bidirectional",
        "--eval-every", "0", "--ckpt-every", "0", "--eval-sentences", "8", "--test-sentences", "8",
        "--beam", "1", "--plots", "1"]   # greedy: one decoder compile shared by validation and test


def _run(args, tmp_path, stdin=None, data_dir=None):
    env = dict(os.environ, MPLBACKEND="Agg", JAX_PLATFORMS="cpu")
    if data_dir is not None:
        env["JAXSEQ_DATA"] = str(data_dir)
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=tmp_path, env=env, input=stdin,
                          capture_output=True, text=True, timeout=600)


def _errors(proc):
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]


def test_tiny_run_then_translate_from_it(data_dir, tmp_path):
    out = tmp_path / "run"
    p = _run([*TINY, "--out", str(out)], tmp_path, data_dir=data_dir)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "test BLEU (eng-fra, filter tutorial, 8 sentences)" in p.stdout
    res = json.loads((out / "test_results.json").read_text())
    assert res["steps"] == 3 and res["test_sentences"] == 8 and 0.0 <= res["bleu_beam"] <= 100.0
    assert (out / "plots" / "attention_0.png").exists() and (out / "test_beam.txt").exists()
    assert [r["step"] for r in json.loads((out / "history.json").read_text())][-1] == 3
    t = _run(["--translate", "i am cold .", "--ckpt", str(out), "--beam", "1", "--attention-dir", "att"],
             tmp_path)
    assert t.returncode == 0, t.stderr[-3000:]
    assert t.stdout.startswith("> i am cold .\n= ") and (tmp_path / "att" / "attention_0.png").exists()


@pytest.mark.slow
def test_scheduled_sampling_beam_and_export(data_dir, tmp_path):
    out, exp = tmp_path / "run", tmp_path / "export"
    p = _run([*TINY, "--ss", "linear", "--ss-k", "0.9", "--beam", "2", "--out", str(out), "--export",
              str(exp)], tmp_path, data_dir=data_dir)
    assert p.returncode == 0, p.stderr[-3000:]
    meta = json.loads((exp / "3" / "meta" / "metadata").read_text())
    assert meta["config"]["ss_k"] == 0.9 and meta["model"]["ss"] == "linear"   # flags reach the meta
    assert meta["param_dtype"] == "bfloat16" and meta["test"]["steps"] == 3 and meta["test"]["beam"] == 2
    # the same command again: fit finds the run finished and only evaluates (no new step, same BLEU)
    again = _run([*TINY, "--ss", "linear", "--ss-k", "0.9", "--beam", "2", "--out", str(out)], tmp_path,
                 data_dir=data_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    res = json.loads((out / "test_results.json").read_text())
    assert res["steps"] == 3 and res["bleu_beam"] == meta["test"]["bleu_beam"]
    t = _run(["--translate", "i am cold .", "--ckpt", str(exp), "--beam", "2"], tmp_path)
    assert t.returncode == 0 and t.stdout.startswith("> i am cold .\n= "), t.stderr[-3000:]


def test_translate_with_the_shipped_checkpoint(tmp_path):
    p = _run(["--interactive", "--translate", "i am cold ."], tmp_path, stdin="you are tall .\n\n")
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.splitlines() == ["> i am cold .", "= je suis froid .",
                                     "> you are tall .", "= vous etes grandes ."]


@pytest.mark.parametrize("args, says", [
    (["--translate", "hi", "--beam", "0"], "--beam 0"),   # the flag and its value
    (["--translate", ""], "empty sentence"),
    (["--translate", "123"], "nothing to translate in '123'"),
    (["--translate", "hi", "--ckpt", "no/such/dir"], "no/such/dir"),
    (["--steps", "2", "--time-budget", "-1", "--data", "missing.txt"], "--time-budget -1"),
])
def test_user_errors_exit_2_with_one_error_line(args, says, tmp_path):
    p = _run(args, tmp_path)
    assert p.returncode == 2, p.stderr[-3000:]
    errs = _errors(p)
    assert len(errs) == 1 and says in errs[0], p.stderr[-3000:]
    assert "Traceback" not in p.stderr
