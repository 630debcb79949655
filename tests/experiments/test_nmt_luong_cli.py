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


TC_TINY = ["--config", "truecase", "--filter", "tutorial", "--vocab-size", "400", "--steps", "3",
           "--hidden", "16", "--emb", "8", "--layers", "1", "--batch-size", "8", "--no-bidirectional",
           "--eval-every", "0", "--ckpt-every", "0", "--eval-sentences", "8", "--test-sentences", "8",
           "--beam", "2", "--plots", "1"]


@pytest.mark.slow   # ~30 s: the true-case data path is tested in tests/models/test_nmt_truecase.py, file
# translation and --n-best through the script with the shipped (true-case) model below
def test_truecase_tiny_run_then_translate_a_file(data_dir, tmp_path):
    out = tmp_path / "run"
    p = _run([*TC_TINY, "--out", str(out)], tmp_path, data_dir=data_dir)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads((out / "test_results.json").read_text())
    assert res["test_sentences"] == 8 and 0.0 <= res["chrf_beam"] <= 100.0 and res["sent_per_s_beam"] > 0
    refs = (out / "test_ref.txt").read_text()
    assert any(c.isupper() for c in refs) and "'" in (out / "test_src.txt").read_text() + refs  # raw text
    (tmp_path / "src.txt").write_text("I'm cold.\n\nWhere is the station?\n")
    (tmp_path / "ref.txt").write_text("J'ai froid.\n\nOù est la gare ?\n")
    t = _run(["--ckpt", str(out), "--src", "src.txt", "--ref", "ref.txt", "--output", "hyp.txt", "--beam", "2",
              "--n-best", "2"], tmp_path)
    assert t.returncode == 0, t.stderr[-3000:]
    lines = (tmp_path / "hyp.txt").read_text().split("\n")
    assert len(lines) == 3 * 2 + 1 and lines[2:4] == ["", ""] and lines[-1] == ""   # 2 per source
    assert "BLEU = " in t.stdout and "chrF = " in t.stdout and "sentences/s" in t.stderr


def test_translate_with_the_shipped_checkpoints(tmp_path):
    p = _run(["--interactive", "--translate", "I'm very tired today."], tmp_path,
             stdin="Where is the station?\n\n")
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.splitlines() == ["> I'm very tired today.", "= Je suis très fatigué aujourd'hui.",
                                     "> Where is the station?", "= Où est la gare ?"]
    p = _run(["--lang", "fra-eng", "--translate", "J'ai froid."], tmp_path)
    assert p.returncode == 0 and p.stdout.splitlines() == ["> J'ai froid.", "= I'm cold."], p.stderr[-3000:]


def test_translate_a_file_with_the_shipped_model(tmp_path):
    # an empty line stays empty; --n-best 2: two hypotheses per source line, BLEU of the best
    (tmp_path / "src.txt").write_text("Je suis très fatigué aujourd'hui.\n\nOù est la gare ?\n")
    (tmp_path / "ref.txt").write_text("I'm very tired today.\n\nWhere is the station?\n")
    p = _run(["--lang", "fra-eng", "--src", "src.txt", "--ref", "ref.txt", "--beam", "3", "--n-best", "2"],
             tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout.splitlines()
    hyps = out[:2] + out[4:6]
    assert all(h[:1].isupper() for h in hyps) and out[2:4] == ["", ""] and out[6].startswith("BLEU = ")
    (tmp_path / "short.txt").write_text("One line.\n")
    p = _run(["--lang", "fra-eng", "--src", "src.txt", "--ref", "short.txt"], tmp_path)
    assert p.returncode == 2 and _errors(p) == [
        "error: --ref short.txt has 1 lines but --src src.txt has 3; give one reference a line"]


SLOW = pytest.mark.slow   # the same case runs by default in tests/test_bad_inputs.py (cases_text.py)


@pytest.mark.parametrize("args, says", [
    pytest.param(["--translate", "hi", "--beam", "0"], "--beam 0", marks=SLOW),   # the flag and its value
    pytest.param(["--translate", ""], "empty sentence", marks=SLOW),
    (["--output", "out.txt"], "--output needs --src FILE"),
    (["--src", "missing.txt"], "--src missing.txt does not exist"),
    (["--src", "x.txt", "--n-best", "6"], "--n-best 6: give 1 to --beam (5)"),
    (["--src", "x.txt", "--translate", "hi"], "--src translates a file"),
    pytest.param(["--translate", "hi", "--ckpt", "no/such/dir"], "no/such/dir", marks=SLOW),
    (["--steps", "2", "--time-budget", "-1", "--data", "missing.txt"], "--time-budget -1"),
])
def test_user_errors_exit_2_with_one_error_line(args, says, tmp_path):
    p = _run(args, tmp_path)
    assert p.returncode == 2, p.stderr[-3000:]
    errs = _errors(p)
    assert len(errs) == 1 and says in errs[0], p.stderr[-3000:]
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_truecase_init_from_continues_with_the_same_subwords(data_dir, tmp_path):
    exp = tmp_path / "exp"
    p = _run([*TC_TINY, "--out", str(tmp_path / "a"), "--export", str(exp)], tmp_path, data_dir=data_dir)
    assert p.returncode == 0, p.stderr[-3000:]
    q = _run([*TC_TINY, "--out", str(tmp_path / "b"), "--init-from", str(exp)], tmp_path, data_dir=data_dir)
    assert q.returncode == 0 and f"initialised from {exp} (step 3)" in q.stdout, q.stderr[-3000:]
    a, b = (json.loads((tmp_path / d / "3" / "meta" / "metadata").read_text()) for d in ("a", "b"))
    assert a["subword"] == b["subword"] and b["init_from"] == {"dir": str(exp), "step": 3}
    r = _run([*TC_TINY, "--hidden", "32", "--out", str(tmp_path / "c"), "--init-from", str(exp)], tmp_path,
             data_dir=data_dir)
    assert r.returncode == 2 and "hidden: 16 there, 32 here" in _errors(r)[0]
