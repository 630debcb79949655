"""Hostile input for the text scripts (nmt_luong.py, scheduled_sampling.py) and the small families
(vae.py, mdn_toy.py): bad flags, bad data files, another family's checkpoint, outputs under a file.

Every fixture is tiny and written by ``setup(tmp_path)``; shipped checkpoints are only read."""
from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

from bad_inputs import Case

ROOT = Path(__file__).resolve().parents[2]
HW = str(ROOT / "ckpt" / "handwriting_synthesis")
SKETCH = str(ROOT / "ckpt" / "sketch_rnn" / "sheep")
NMT = str(ROOT / "ckpt" / "nmt_luong" / "eng-fra")
FR = ["--translate", "i am cold ."]
PAIRS = "I am cold.\tJ'ai froid.\nYou are tall.\tTu es grand.\nHe is here.\tIl est ici.\n"


def _write(rel, data):
    def setup(tmp):
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
    return setup


def _zip_bytes(text: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("data/eng-fra.txt", text)
    return buf.getvalue()


def _idx_truncated(tmp):
    import numpy as np
    from jaxseq.data.mnist import write_idx
    d = tmp / "mnist"
    d.mkdir()
    write_idx(d / "t10k-images-idx3-ubyte", np.zeros((20, 28, 28), np.uint8))
    write_idx(d / "t10k-labels-idx1-ubyte", np.zeros(20, np.uint8))
    raw = (d / "t10k-images-idx3-ubyte").read_bytes()
    (d / "t10k-images-idx3-ubyte").write_bytes(raw[:len(raw) // 2])


def _nmt_run_copy(tmp, dest="run/ckpt"):
    """A copy of the shipped NMT checkpoint as another script's run folder (another family's run)."""
    import shutil
    shutil.copytree(NMT, tmp / dest)


def _sketch_run_copy(tmp):
    import shutil
    shutil.copytree(SKETCH, tmp / "run")
    _write("p.txt", PAIRS * 20)(tmp)


def _ss_fixture(tmp):
    _write("tinyshakespeare/input.txt", "To be, or not to be: that is the question.\n" * 80)(tmp)


LONG = " ".join(["cold"] * 500)
TRAIN = ["--steps", "1", "--batch-size", "2"]

CASES = [
    # ---------------------------------------------------------------- nmt_luong.py: translation
    Case("nmt_beam_zero", "nmt_luong.py", FR + ["--beam", "0"], names=["0"]),
    Case("nmt_beam_negative", "nmt_luong.py", FR + ["--beam", "-3"], names=["-3"]),
    Case("nmt_translate_empty", "nmt_luong.py", ["--translate", ""], names=["empty"]),
    Case("nmt_translate_blank", "nmt_luong.py", ["--translate", "   "], names=["empty"]),
    # "no letters" and "only unknown words" are not errors for the shipped true-case models: their
    # SentencePiece vocabulary falls back to bytes, so every input encodes (tests/data/test_subword.py)
    Case("nmt_translate_500_words", "nmt_luong.py", ["--translate", LONG], names=["500", "limit"]),
    Case("nmt_ckpt_handwriting", "nmt_luong.py", FR + ["--ckpt", HW], names=[HW, "handwriting"]),
    Case("nmt_ckpt_sketch", "nmt_luong.py", FR + ["--ckpt", SKETCH], names=[SKETCH, "sketch"]),
    Case("nmt_ckpt_missing", "nmt_luong.py", FR + ["--ckpt", "{tmp}/nope"], names=["{tmp}/nope"]),
    Case("nmt_ckpt_empty_dir", "nmt_luong.py", FR + ["--ckpt", "{tmp}/empty"], names=["{tmp}/empty"],
         setup=lambda tmp: (tmp / "empty").mkdir()),
    Case("nmt_attention_dir_under_file", "nmt_luong.py", FR + ["--attention-dir", "{tmp}/f/att"],
         names=["{tmp}/f"], setup=_write("f", "x")),
    # ---------------------------------------------------------------- nmt_luong.py: training flags
    Case("nmt_steps_negative", "nmt_luong.py", ["--steps", "-1"], names=["-1"]),
    Case("nmt_batch_zero", "nmt_luong.py", ["--batch-size", "0"], names=["0"]),
    Case("nmt_lr_negative", "nmt_luong.py", ["--lr", "-1"], names=["-1"]),
    Case("nmt_dropout_one", "nmt_luong.py", ["--dropout", "1.5"], names=["1.5"]),
    Case("nmt_out_under_file", "nmt_luong.py", TRAIN + ["--data", "{tmp}/p.txt", "--out", "{tmp}/f/run"],
         names=["{tmp}/f"], setup=lambda tmp: (_write("f", "x")(tmp), _write("p.txt", PAIRS)(tmp))[-1]),
    Case("nmt_cache_under_file", "nmt_luong.py", ["--data", "{tmp}/p.txt", "--cache", "{tmp}/f/c.gz"],
         names=["{tmp}/f"], setup=lambda tmp: (_write("f", "x")(tmp), _write("p.txt", PAIRS)(tmp))[-1]),
    Case("nmt_test_sentences_negative", "nmt_luong.py", ["--test-sentences", "-4"], names=["-4"]),
    Case("nmt_eval_only_handwriting", "nmt_luong.py", ["--eval-only", "--ckpt", HW, "--out", "{tmp}/ev"],
         names=[HW, "handwriting"]),
    Case("nmt_out_holds_sketch_run", "nmt_luong.py", TRAIN + ["--data", "{tmp}/p.txt", "--out", "{tmp}/run"],
         names=["{tmp}/run", "Sketch-RNN"], setup=_sketch_run_copy),
    # ---------------------------------------------------------------- data: eng-fra
    Case("data_nmt_data_dir_missing", "nmt_luong.py", TRAIN + ["--data-dir", "{tmp}/nodir"],
         names=["{tmp}/nodir"]),
    Case("data_nmt_data_missing", "nmt_luong.py", TRAIN + ["--data", "{tmp}/nofile.txt"],
         names=["{tmp}/nofile.txt"]),
    Case("data_nmt_data_is_folder", "nmt_luong.py", TRAIN + ["--data", "{tmp}"], names=["{tmp}", "folder"]),
    Case("data_nmt_zip_truncated", "nmt_luong.py", TRAIN + ["--data-dir", "{tmp}"],
         names=["{tmp}/pytorch-tutorial/data.zip"],
         setup=_write("pytorch-tutorial/data.zip", _zip_bytes(PAIRS.encode() * 50)[:-30])),
    Case("data_nmt_zip_not_zip", "nmt_luong.py", TRAIN + ["--data", "{tmp}/data.zip"],
         names=["{tmp}/data.zip"], setup=_write("data.zip", b"this is not a zip archive\n" * 20)),
    Case("data_nmt_zip_wrong_member", "nmt_luong.py", TRAIN + ["--data", "{tmp}/data.zip"],
         names=["{tmp}/data.zip", "data/eng-fra.txt"],
         setup=_write("data.zip", _zip_bytes(b"x").replace(b"data/eng-fra.txt", b"data/fra-eng.txt"))),
    Case("data_nmt_gz_truncated", "nmt_luong.py", TRAIN + ["--data", "{tmp}/p.txt.gz"],
         names=["{tmp}/p.txt.gz"], setup=_write("p.txt.gz", gzip.compress(PAIRS.encode() * 100)[:60])),
    Case("data_nmt_empty", "nmt_luong.py", TRAIN + ["--data", "{tmp}/p.txt"],
         names=["{tmp}/p.txt", "no"], setup=_write("p.txt", "")),
    Case("data_nmt_all_bad", "nmt_luong.py", TRAIN + ["--data", "{tmp}/p.txt"],
         names=["{tmp}/p.txt", "3 bad", "line 1"], setup=_write("p.txt", "no tab here\nnor here\nx\t\n")),
    Case("data_nmt_latin1", "nmt_luong.py", TRAIN + ["--data", "{tmp}/p.txt"],
         names=["{tmp}/p.txt", "UTF-8", "line 1"],
         setup=_write("p.txt", "I drink coffee.\tJe bois du café.\nA café.\tUn café.\n".encode("latin-1"))),
    Case("data_nmt_none_after_filter", "nmt_luong.py", TRAIN + ["--data", "{tmp}/p.txt"],
         names=["{tmp}/p.txt", "tutorial"], setup=_write("p.txt", "Go.\tVa !\nRun!\tCours !\n")),
    # ---------------------------------------------------------------- scheduled_sampling.py
    Case("ss_steps_negative", "scheduled_sampling.py", ["--steps", "-1"], names=["-1"]),
    Case("ss_batch_zero", "scheduled_sampling.py", ["--batch-size", "0"], names=["0"]),
    Case("ss_lr_negative", "scheduled_sampling.py", ["--lr", "-1"], names=["-1"]),
    Case("ss_temperature_zero", "scheduled_sampling.py", ["--temperature", "0"], names=["0"]),
    Case("ss_out_under_file", "scheduled_sampling.py", ["--data-dir", "{tmp}", "--out", "{tmp}/f/ss"],
         names=["{tmp}/f"], setup=lambda tmp: (_write("f", "x")(tmp),
                                               _write("tinyshakespeare/input.txt", "To be.\n" * 200)(tmp))[-1]),
    Case("ss_cache_under_file", "scheduled_sampling.py", ["--data-dir", "{tmp}", "--cache", "{tmp}/f/c.npz"],
         names=["{tmp}/f"], setup=lambda tmp: (_write("f", "x")(tmp),
                                               _write("tinyshakespeare/input.txt", "To be.\n" * 200)(tmp))[-1]),
    Case("ss_sample_ckpt_nmt", "scheduled_sampling.py", ["sample", "--ckpt", NMT], names=[NMT, "NMT"]),
    Case("ss_sample_ckpt_handwriting", "scheduled_sampling.py", ["sample", "--ckpt", HW],
         names=[HW, "handwriting"]),
    Case("ss_sample_ckpt_missing", "scheduled_sampling.py", ["sample", "--ckpt", "{tmp}/nope"],
         names=["{tmp}/nope"]),
    Case("ss_sample_length_zero", "scheduled_sampling.py", ["sample", "--ckpt", NMT, "--length", "0"],
         names=["0"]),
    Case("ss_sample_temperature_zero", "scheduled_sampling.py",
         ["sample", "--ckpt", NMT, "--temperature", "0"], names=["0"]),
    Case("ss_sample_prefix_empty", "scheduled_sampling.py", ["sample", "--ckpt", NMT, "--prefix", ""],
         names=["prefix"]),
    Case("ss_sample_length_negative", "scheduled_sampling.py", ["sample", "--ckpt", NMT, "--length", "-5"],
         names=["-5"]),
    Case("ss_sample_out_under_file", "scheduled_sampling.py",
         ["sample", "--ckpt", NMT, "--out", "{tmp}/f/s.txt"], names=["{tmp}/f"], setup=_write("f", "x")),
    Case("ss_out_holds_nmt_run", "scheduled_sampling.py",
         ["--data-dir", "{tmp}", "--mode", "tf", "--steps", "2", "--seq-len", "20", "--out", "{tmp}/ss"],
         names=["{tmp}/ss/ckpt_tf", "NMT"], setup=lambda tmp: (_ss_fixture(tmp), _nmt_run_copy(tmp, "ss/ckpt_tf"))[-1]),
    Case("data_ss_cache_missing", "scheduled_sampling.py", ["--data", "{tmp}/nope.npz"], names=["{tmp}/nope.npz"]),
    Case("data_ss_data_dir_missing", "scheduled_sampling.py", ["--data-dir", "{tmp}/nodir"],
         names=["{tmp}/nodir"]),
    Case("data_ss_text_empty", "scheduled_sampling.py", ["--data-dir", "{tmp}"],
         names=["{tmp}/tinyshakespeare/input.txt"], setup=_write("tinyshakespeare/input.txt", "")),
    Case("data_ss_text_too_short", "scheduled_sampling.py", ["--data-dir", "{tmp}"],
         names=["{tmp}/tinyshakespeare/input.txt"], setup=_write("tinyshakespeare/input.txt", "To be.\n")),
    Case("data_ss_text_short_for_windows", "scheduled_sampling.py", ["--data-dir", "{tmp}"],
         names=["{tmp}/tinyshakespeare/input.txt", "too few", "258"],
         setup=_write("tinyshakespeare/input.txt", "To be, or not to be.\n" * 100)),
    Case("data_ss_text_not_utf8", "scheduled_sampling.py", ["--data-dir", "{tmp}"],
         names=["{tmp}/tinyshakespeare/input.txt", "UTF-8"],
         setup=_write("tinyshakespeare/input.txt", "café\n".encode("latin-1") * 100)),
    Case("data_ss_cache_corrupt", "scheduled_sampling.py", ["--data", "{tmp}/c.npz"],
         names=["{tmp}/c.npz"], setup=_write("c.npz", b"PK\x03\x04 not really")),
    # ---------------------------------------------------------------- vae.py
    Case("vae_epochs_zero", "vae.py", ["--epochs", "0"], names=["0"]),
    Case("vae_batch_zero", "vae.py", ["--batch-size", "0"], names=["0"]),
    Case("vae_lr_negative", "vae.py", ["--lr", "-1"], names=["-1"]),
    Case("vae_iw_k_zero", "vae.py", ["--iw-k", "0"], names=["0"]),
    Case("vae_t10k_split", "vae.py", ["--t10k-split", "1.5"], names=["1.5"]),
    Case("vae_eval_n_negative", "vae.py", ["--eval-n", "-5"], names=["-5"]),
    Case("vae_z_dim_zero", "vae.py", ["--z-dim", "0"], names=["z_dim 0"]),
    Case("vae_hidden_text", "vae.py", ["--hidden", "big"], names=["big"]),
    Case("vae_out_under_file", "vae.py", ["--out", "{tmp}/f/run"], names=["{tmp}/f"], setup=_write("f", "x")),
    Case("vae_ckpt_of_nmt", "vae.py", ["--data", "mnist", "--data-dir", "{tmp}", "--t10k-split", "0.5",
                                       "--out", "{tmp}/run"], names=["{tmp}/run/ckpt", "NMT"],
         setup=lambda tmp: (_nmt_run_copy(tmp), _idx_good(tmp))[-1], allowed_new=("metadata",)),
    Case("data_vae_data_dir_missing", "vae.py", ["--data-dir", "{tmp}/nodir"], names=["{tmp}/nodir"]),
    Case("data_vae_idx_truncated", "vae.py", ["--data", "mnist", "--data-dir", "{tmp}", "--t10k-split", "0.5"],
         names=["{tmp}/mnist/t10k-images-idx3-ubyte"], setup=_idx_truncated),
    Case("data_vae_no_train_files", "vae.py", ["--data", "mnist", "--data-dir", "{tmp}"],
         names=["train-images-idx3-ubyte"], setup=lambda tmp: (tmp / "mnist").mkdir()),
    # ---------------------------------------------------------------- mdn_toy.py
    Case("mdn_steps_negative", "mdn_toy.py", ["--steps", "-1"], names=["-1"]),
    Case("mdn_lr_negative", "mdn_toy.py", ["--lr", "-1"], names=["-1"]),
    Case("mdn_n_mix_zero", "mdn_toy.py", ["--n-mix", "0"], names=["0"]),
    Case("mdn_n_train_zero", "mdn_toy.py", ["--n-train", "0"], names=["--n-train 0"]),
    Case("mdn_out_under_file", "mdn_toy.py", ["--steps", "2", "--out", "{tmp}/f/run"], names=["{tmp}/f"],
         setup=_write("f", "x")),
]


def _idx_good(tmp):
    import numpy as np
    from jaxseq.data.mnist import write_idx
    d = tmp / "mnist"
    d.mkdir(exist_ok=True)
    write_idx(d / "t10k-images-idx3-ubyte", np.zeros((20, 28, 28), np.uint8))
    write_idx(d / "t10k-labels-idx1-ubyte", np.zeros(20, np.uint8))
