"""experiments/pos_tagger.py through its real entry point: train on the hand-written CoNLL-U fixture and
score it, tag from the shipped toy checkpoint, and bad input (an empty sentence; a CoNLL-U set whose tags
the model never saw) as one ``error:`` line (exit 2)."""
from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import assert_user_error, run_script

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "toy.conllu"


def cli(*args):
    return run_script("pos_tagger.py", *args)


def test_train_on_conllu(tmp_path):
    r = cli("train", "--train", FIXTURE, "--dev", FIXTURE, "--test", FIXTURE, "--steps", "8", "--eval-every",
            "4", "--embed", "8", "--hidden", "8", "--char-hidden", "8", "--no-progress", "--out", tmp_path / "r")
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert res["train_sentences"] == 3 and "PUNCT" in res["tags"] and 0 <= res["test_accuracy"] <= 1


def test_predict_and_bad_input():
    r = cli("predict", "The dog read the book")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "The/DET dog/NN read/V the/DET book/NN"
    assert_user_error(cli("predict", "The dog", "  "), "'  '", "no words")
    assert_user_error(cli("eval", "--data", FIXTURE), "'NOUN'", "tag set")
