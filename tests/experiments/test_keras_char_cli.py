"""experiments/keras_char_seq2seq.py through its real entry point: a tiny run on the real pairs, translation
from its export (and from the shipped checkpoint), bad input (exit 2 with one ``error:`` line, or a
``warning:`` line and a translation)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import assert_user_error, run_script

SCRIPT = "keras_char_seq2seq.py"
ROOT = Path(__file__).resolve().parents[2]
TINY = ["--num-samples", "200", "--steps", "3", "--hidden", "8", "--batch-size", "16", "--eval-every", "0",
        "--ckpt-every", "0", "--eval-sentences", "8"]


@pytest.fixture(scope="module")
def exported(data_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kc")
    r = run_script(SCRIPT, "train", *TINY, "--out", tmp / "run", "--export", tmp / "exp",
                   JAXSEQ_DATA=str(data_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "test (10 held-out pairs): CER" in r.stdout
    res = json.loads((tmp / "run" / "test_results.json").read_text())
    assert res["steps"] == 3 and res["cer"] >= 0 and 0 <= res["bleu"] <= 100
    return tmp / "exp"


def test_translate_and_bad_input(exported):
    r = run_script(SCRIPT, "translate", "--ckpt", exported, "--text", "Go.", "--text", "Run! " * 500)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("> Go.\n= ") and r.stdout.count("\n= ") == 2
    assert "warning: input of 2499 characters cut to its first 80" in r.stderr
    # from stdin: a bad line is skipped with its reason, the others are translated
    r = run_script(SCRIPT, "translate", "--ckpt", exported, stdin="Hi.\n@@@ ###\nGo.\n")
    assert r.returncode == 0 and r.stdout.count("\n= ") == 2, r.stderr[-3000:]
    assert "skipped: no character of '@@@ ###' is known" in r.stderr
    assert_user_error(run_script(SCRIPT, "translate", "--ckpt", exported, "--text", "@@@"), "no character")


def test_eval(exported, data_dir, tmp_path):
    r = run_script(SCRIPT, "eval", "--ckpt", exported, "--out", tmp_path, JAXSEQ_DATA=str(data_dir))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "test_results.json").read_text())
    assert res["sentences"] == 10 and (tmp_path / "test_outputs.txt").read_text().count("\n") == 10


@pytest.mark.slow   # the same checks run by default in tests/test_bad_inputs.py (cases_chat.py: keras_char_*)
def test_user_errors(exported, tmp_path):
    assert_user_error(run_script(SCRIPT, "translate", "--ckpt", exported, "--text", "  "), "empty sentence")
    assert_user_error(run_script(SCRIPT, "translate", "--ckpt", exported.parent / "nope"), "nope")
    assert_user_error(run_script(SCRIPT, "train", "--steps", "0", "--out", tmp_path), "--steps", "at least 1")


@pytest.mark.skipif(not (ROOT / "ckpt" / "keras_char" / "eng-fra").is_dir(), reason="no shipped checkpoint")
def test_shipped_checkpoint_from_another_folder(tmp_path):
    r = run_script(SCRIPT, "translate", "--text", "I am cold.", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("> I am cold.\n= "), r.stderr[-3000:]
