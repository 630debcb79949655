"""experiments/seq2seq.py through its real entry point: a tiny run of each model on the real data (the
tutorial attention decoder by default, the others marked slow), translation from the run (sentences,
stdin, a file with references), bad input (empty, only unknown words, 500 words, a sentence longer than
the tutorial decoder's window) and user errors (exit 2, one ``error:`` line)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cli_helpers import ROOT, assert_user_error, run_script

TINY = ["--steps", "3", "--emb", "8", "--hidden", "16", "--d-model", "16", "--heads", "2", "--ff", "32",
        "--enc-layers", "1", "--dec-layers", "1", "--batch-size", "8", "--eval-every", "0", "--ckpt-every",
        "0", "--eval-sentences", "8", "--test-sentences", "8", "--beam", "2"]


def train(model, out, data_dir, *extra):
    r = run_script("seq2seq.py", "train", "--model", model, *TINY, "--out", out, *extra,
                   JAXSEQ_DATA=str(data_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "test_results.json").read_text())
    assert res["model"] == model and res["steps"] == 3 and res["test_sentences"] == 8
    assert 0 <= res["bleu_beam"] <= 100 and 0 <= res["chrf_greedy"] <= 100 and res["params"] > 0
    assert res["train_tok_s"] > 0 and res["train_seconds"] > 0
    assert (out / "test_beam.txt").read_text().count("\n") == 8 and (out / "history.json").exists()
    assert f"test (8 sentences) {model}: BLEU greedy" in r.stdout
    return res


@pytest.fixture(scope="module")
def tutorial_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("s2s") / "tutorial-attn"
    train("tutorial-attn", out, data_dir)
    return out


def test_translate_from_a_tiny_run(tutorial_run):
    r = run_script("seq2seq.py", "translate", "--ckpt", tutorial_run, "--text", "i am cold .", "--beam", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("> i am cold .\n= ")


def test_bad_sentences_are_skipped_with_a_message(tutorial_run):
    long = " ".join(["cat"] * 500)
    lines = ["zzz qqq", long, "you are a very tall and very kind old teacher of my son .", "i am cold ."]
    env = dict(os.environ, JAX_PLATFORMS="cpu", MPLBACKEND="Agg")
    env.pop("JAXSEQ_DEBUG", None)
    r = subprocess.run([sys.executable, str(ROOT / "experiments" / "seq2seq.py"), "translate", "--ckpt",
                        str(tutorial_run), "--interactive", "--beam", "1"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "skipped: nothing to translate in 'zzz qqq': no word known to the model" in r.stderr
    assert "skipped: sentence of 500 tokens" in r.stderr and "over the limit" in r.stderr
    # the tutorial decoder attends over max_length positions: a longer sentence is cut, with a warning
    assert "reads at most 10 positions" in r.stderr and "translating only the first 9" in r.stderr
    assert [ln for ln in r.stdout.splitlines() if ln.startswith("> ")] == ["> " + lines[2], "> i am cold ."]


def test_translate_a_file_with_references(tutorial_run, tmp_path):
    (tmp_path / "src.txt").write_text("I am cold.\n\nShe is happy.\n")
    (tmp_path / "ref.txt").write_text("J'ai froid.\n\nElle est heureuse.\n")
    r = run_script("seq2seq.py", "translate", "--ckpt", tutorial_run, "--src", "src.txt", "--output",
                   "out/hyp.txt", "--ref", "ref.txt", "--beam", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "out" / "hyp.txt").read_text().count("\n") == 3 and "BLEU = " in r.stdout


def test_attention_figure_beside_luong(tutorial_run, tmp_path):
    r = run_script("seq2seq.py", "plot-attention", "--tutorial", tutorial_run, "--luong", "eng-fra", "--text",
                   "i am cold .", "--out", tmp_path / "att.png")
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "att.png").stat().st_size > 1000


@pytest.mark.parametrize("args, says", [
    (["--text", "   "], "empty sentence"),
    (["--text", "123"], "nothing to translate in '123'"),
    (["--text", " ".join(["cat"] * 500)], "over the limit"),
])
def test_bad_text_is_one_error_line(tutorial_run, args, says):
    assert_user_error(run_script("seq2seq.py", "translate", "--ckpt", tutorial_run, *args), says)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["simple", "transformer"])
def test_tiny_run_of_the_other_models(model, data_dir, tmp_path):
    train(model, tmp_path / model, data_dir)
    r = run_script("seq2seq.py", "eval", "--ckpt", tmp_path / model, "--beam", "2", "--test-sentences", "8",
                   JAXSEQ_DATA=str(data_dir))
    assert r.returncode == 0 and f"test (8 sentences) {model}" in r.stdout, r.stderr[-3000:]


# the same checks run by default in tests/test_bad_inputs.py (cases_seq2seq.py: s2s_steps_zero, s2s_heads,
# s2s_missing_ckpt, s2s_nothing)
@pytest.mark.slow
@pytest.mark.parametrize("args, says", [
    (["train", "--steps", "0"], "--steps 0"),
    (["train", "--tf-ratio", "2"], "--tf-ratio 2"),
    (["train", "--model", "transformer", "--d-model", "30"], "--d-model 30"),
    (["translate", "--ckpt", "no/such/dir", "--text", "hi"], "no/such/dir"),
    (["translate", "--ckpt", "x"], "nothing to translate"),
])
def test_user_errors(args, says, tmp_path):
    assert_user_error(run_script("seq2seq.py", *args, cwd=tmp_path), says)
