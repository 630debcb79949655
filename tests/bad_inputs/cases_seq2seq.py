"""Hostile input for experiments/seq2seq.py that needs no trained model: bad flag values, a missing or
wrong-family checkpoint, a data file that is not there, outputs under a file."""
from __future__ import annotations

from pathlib import Path

from bad_inputs import Case

ROOT = Path(__file__).resolve().parents[2]
NMT = str(ROOT / "ckpt" / "nmt_luong" / "eng-fra")


def _file(name):
    def setup(tmp):
        (tmp / name).write_text("not a folder\n")
    return setup


CASES = [
    Case("s2s_steps_zero", "seq2seq.py", ["train", "--steps", "0"], names=["--steps 0"]),
    Case("s2s_tf_ratio", "seq2seq.py", ["train", "--tf-ratio", "1.5"], names=["--tf-ratio 1.5"]),
    Case("s2s_heads", "seq2seq.py", ["train", "--model", "transformer", "--heads", "3"], names=["--d-model"]),
    Case("s2s_missing_data", "seq2seq.py", ["train", "--data", "{tmp}/none.txt", "--out", "{tmp}/run"],
         names=["none.txt"]),
    Case("s2s_out_under_file", "seq2seq.py", ["train", "--out", "{tmp}/f/run"], names=["f"],
         setup=_file("f"), allowed_new=["f"]),
    Case("s2s_missing_ckpt", "seq2seq.py", ["translate", "--ckpt", "{tmp}/nope", "--text", "hi"],
         names=["nope"]),
    Case("s2s_nmt_ckpt", "seq2seq.py", ["translate", "--ckpt", NMT, "--text", "i am cold ."],
         names=["NMT", "seq2seq"]),
    Case("s2s_nothing", "seq2seq.py", ["translate", "--ckpt", NMT], names=["nothing to translate"]),
    Case("s2s_eval_nmt_ckpt", "seq2seq.py", ["eval", "--ckpt", NMT], names=["seq2seq"]),
]
