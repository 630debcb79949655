"""Hostile input for experiments/names.py: names and start letters outside the alphabet, unknown
languages, bad sampling values, another family's checkpoint, broken data archives."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bad_inputs import Case

ROOT = Path(__file__).resolve().parents[2]
SKETCH = str(ROOT / "ckpt" / "sketch_rnn" / "sheep")
TRAIN = ["train", "--steps", "1", "--batch-size", "2", "--no-progress"]


def _zip(tmp, files, name="data.zip"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for member, text in files.items():
            z.writestr(member, text)
    (tmp / name).write_bytes(buf.getvalue())


CASES = [
    Case("names_predict_digit", "names.py", ["predict", "Smith3"], names=["Smith3", "'3'"]),
    Case("names_predict_sharp_s", "names.py", ["predict", "Schmidhuber", "Straße"], names=["Straße", "'ß'"]),
    Case("names_predict_cjk", "names.py", ["predict", "李"], names=["李"]),
    Case("names_predict_empty", "names.py", ["predict", ""], names=["empty"]),
    Case("names_predict_top_zero", "names.py", ["predict", "Abel", "--top", "0"], names=["top 0"]),
    Case("names_generate_unknown_language", "names.py", ["generate", "--language", "Klingon"],
         names=["Klingon", "Russian"]),
    Case("names_generate_bad_start", "names.py", ["generate", "--language", "Russian", "--start", "R9"],
         names=["'9'"]),
    Case("names_generate_temperature_zero", "names.py",
         ["generate", "--language", "Russian", "--temperature", "0"], names=["temperature 0"]),
    Case("names_generate_n_zero", "names.py", ["generate", "--language", "Russian", "--n", "0"],
         names=["n 0"]),
    Case("names_predict_sketch_ckpt", "names.py", ["predict", "Abel", "--ckpt", SKETCH],
         names=[SKETCH, "Sketch-RNN"]),
    Case("names_generate_with_classifier", "names.py", ["generate", "--language", "Irish", "--ckpt",
                                                        "classifier"], names=["classifier"]),
    Case("names_ckpt_missing", "names.py", ["predict", "Abel", "--ckpt", "{tmp}/nope"], names=["{tmp}/nope"]),
    Case("names_data_missing", "names.py", TRAIN + ["--data", "{tmp}/no.zip", "--ckpt-dir", "{tmp}/run"],
         names=["{tmp}/no.zip"]),
    Case("names_zip_without_names", "names.py", TRAIN + ["--data", "{tmp}/data.zip", "--ckpt-dir", "{tmp}/r"],
         names=["{tmp}/data.zip", "data/names"], setup=lambda tmp: _zip(tmp, {"data/eng-fra.txt": "a\tb\n"})),
    Case("names_hidden_zero", "names.py", TRAIN + ["--hidden", "0"], names=["--hidden", "0"]),
]
