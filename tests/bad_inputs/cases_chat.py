"""Hostile input for experiments/chatbot.py and experiments/keras_char_seq2seq.py: empty lines, bad flag
values, missing or damaged data, another family's checkpoint, a checkpoint that is not there."""
from __future__ import annotations

from pathlib import Path

from bad_inputs import Case

ROOT = Path(__file__).resolve().parents[2]
SKETCH = str(ROOT / "ckpt" / "sketch_rnn" / "sheep")
NMT = str(ROOT / "ckpt" / "nmt_luong" / "eng-fra")
CHAT_TRAIN = ["train", "--steps", "1", "--out", "{tmp}/run"]
KC_TRAIN = ["train", "--steps", "1", "--out", "{tmp}/run"]


def _write(rel, data: bytes):
    def setup(tmp):
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return setup


CASES = [
    Case("chat_say_empty", "chatbot.py", ["chat", "--say", "  "], names=["--say", "empty"]),
    Case("chat_beam_zero", "chatbot.py", ["chat", "--say", "my lord", "--beam", "0"], names=["--beam 0"]),
    Case("chat_ckpt_missing", "chatbot.py", ["chat", "--say", "my lord", "--ckpt", "{tmp}/nope"],
         names=["{tmp}/nope"]),
    Case("chat_sketch_ckpt", "chatbot.py", ["chat", "--say", "my lord", "--ckpt", SKETCH],
         names=[SKETCH, "Sketch-RNN", "chatbot"]),
    Case("chat_tf_ratio", "chatbot.py", CHAT_TRAIN + ["--tf-ratio", "2"], names=["--tf-ratio", "2"]),
    Case("chat_hidden_zero", "chatbot.py", CHAT_TRAIN + ["--hidden", "0"], names=["--hidden", "0"]),
    Case("chat_data_dir_missing", "chatbot.py", CHAT_TRAIN + ["--data-dir", "{tmp}/nodata"],
         names=["{tmp}/nodata"]),
    Case("chat_cornell_damaged", "chatbot.py", CHAT_TRAIN + ["--corpus", "cornell", "--data-dir", "{tmp}"],
         names=["cornell_movie_dialogs_corpus.zip", "damaged"],
         setup=_write("cornell/cornell_movie_dialogs_corpus.zip", b"PK\x03\x04 not really a zip")),
    Case("chat_shakespeare_no_speeches", "chatbot.py", CHAT_TRAIN + ["--data-dir", "{tmp}"],
         names=["tinyshakespeare/input.txt", "no speeches"],
         setup=_write("tinyshakespeare/input.txt", b"plain prose without any speaker lines\n" * 50)),
    Case("keras_char_text_empty", "keras_char_seq2seq.py", ["translate", "--text", ""],
         names=["--text", "empty"]),
    Case("keras_char_ckpt_missing", "keras_char_seq2seq.py", ["translate", "--text", "Go.", "--ckpt",
                                                              "{tmp}/nope"], names=["{tmp}/nope"]),
    Case("keras_char_nmt_ckpt", "keras_char_seq2seq.py", ["translate", "--text", "Go.", "--ckpt", NMT],
         names=[NMT, "NMT", "Keras character seq2seq"]),
    Case("keras_char_samples_zero", "keras_char_seq2seq.py", KC_TRAIN + ["--num-samples", "0"],
         names=["--num-samples", "0"]),
    Case("keras_char_data_missing", "keras_char_seq2seq.py", KC_TRAIN + ["--data", "{tmp}/no.zip"],
         names=["{tmp}/no.zip"]),
    Case("keras_char_no_pairs", "keras_char_seq2seq.py", KC_TRAIN + ["--data", "{tmp}/eng-fra.txt"],
         names=["{tmp}/eng-fra.txt", "no English<TAB>French"],
         setup=_write("eng-fra.txt", b"no tabs here\nnor here\n")),
]
