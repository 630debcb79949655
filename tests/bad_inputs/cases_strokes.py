"""Hostile input for the stroke models: ``experiments/handwriting.py`` (ids ``hw_*``) and
``experiments/sketch_rnn.py`` (ids ``sketch_*``).

Fixtures are tiny and made by ``setup(tmp_path)``; the two tiny checkpoints with NaN weights (the model of
a corrupted checkpoint) are made once per machine under ``$TMPDIR/jaxseq_bad_strokes`` and copied. The
shipped checkpoints are used read-only, by absolute path (cases run in their temp folder).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bad_inputs import Case

ROOT = Path(__file__).resolve().parents[2]
HW_SHIPPED = str(ROOT / "ckpt" / "handwriting_synthesis")
HW_PRED = str(ROOT / "ckpt" / "handwriting_prediction")
SHEEP = str(ROOT / "ckpt" / "sketch_rnn" / "sheep")
CACHE = Path(tempfile.gettempdir()) / "jaxseq_bad_strokes"
HW, SK = "handwriting.py", "sketch_rnn.py"


# -------------------------------------------------------------------------------------------- fixtures
def _tiny_checkpoint(kind):
    """A tiny, validly saved checkpoint whose weights are NaN (what a corrupted one samples like)."""
    path = CACHE / f"{kind}_nan"
    if (path / "1").is_dir():
        return path
    import jax
    from jaxseq.training.checkpoint import Checkpointer
    tmp = Path(tempfile.mkdtemp(dir=CACHE.parent if CACHE.parent.exists() else None))
    if kind == "hw":
        from jaxseq.data.charset import Charset
        from jaxseq.models.handwriting import model as hw
        from jaxseq.models.handwriting.training import make_meta
        cs = Charset("abcde ")
        cfg = hw.HWConfig(task="synthesis", hidden=8, layers=1, n_mix=2, n_gauss=2, vocab=cs.size,
                          kappa_scale=0.2)
        params = hw.init(jax.random.PRNGKey(0), cfg)
        prime = {"text": "abc", "writer": "w0", "strokes": [[0.0, 0.0, 0.0], [0.5, 0.1, 1.0]] * 3}
        meta = make_meta(cfg, 1.0, cs, 16, [prime])
    else:
        from jaxseq.models.sketch_rnn import model as sr
        cfg = sr.SketchConfig(enc_size=4, dec_size=8, z_size=2, n_mix=2, max_len=20)
        params = sr.init(jax.random.PRNGKey(0), cfg)
        meta = {"model": "sketch_rnn", "config": cfg.to_dict(), "scale": 1.0, "data": "toy",
                "examples": [[[1.0, 2.0, 0.0], [3.0, 1.0, 1.0]]] * 2}
    params = jax.tree_util.tree_map(lambda a: np.full(np.shape(a), np.nan, np.float32), params)
    ck = Checkpointer(tmp / "ck")
    ck.save(1, params, meta=meta)
    ck.close()
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp / "ck", path)
    except OSError:      # another worker made it first
        pass
    shutil.rmtree(tmp, ignore_errors=True)
    return path


def nan_ckpt(kind):
    def setup(tmp):
        shutil.copytree(_tiny_checkpoint(kind), tmp / "ck")
    return setup


def bad_meta(kind):
    def setup(tmp):
        shutil.copytree(_tiny_checkpoint(kind), tmp / "ck")
        (tmp / "ck" / "1" / "meta" / "metadata").write_text('{"config": {"task": "synth')
    return setup


def a_file(name, content=b"x"):
    def setup(tmp):
        (tmp / name).write_bytes(content)
    return setup


def _npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _objects(seqs):
    a = np.empty(len(seqs), dtype=object)
    a[:] = seqs
    return a


def _sheep_like(train=None, valid=None, test=None):
    s = np.array([[1, 2, 0], [3, -1, 1], [2, 2, 0], [1, 1, 1]], np.int16)
    return {"train": _objects(train if train is not None else [s] * 4),
            "valid": _objects(valid if valid is not None else [s] * 2),
            "test": _objects(test if test is not None else [s] * 2)}


class _Payload:
    """Unpickling this calls ``fn(arg)`` (``os.system`` or ``builtins.exec``): a malicious pickle."""
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


def malicious_npz(how):
    def setup(tmp):
        marker = tmp / "PWNED"
        import builtins
        if how == "system":
            evil = _Payload(os.system, f"touch {marker}")
        else:   # builtins.exec, hidden inside one element of the object array
            evil = _Payload(builtins.exec, f"open({str(marker)!r}, 'w').write('x')")
        arrays = _sheep_like()
        arrays["train"][1] = evil
        (tmp / "evil.npz").write_bytes(_npz_bytes(arrays))
    return setup


def string_npz(tmp):
    (tmp / "strings.npz").write_bytes(_npz_bytes({k: np.array(["1,2,0", "3,4,1"]) for k in
                                                  ("train", "valid", "test")}))


def nan_npz(tmp):
    bad = np.array([[1.0, np.nan, 0.0], [3.0, 1.0, 1.0]], np.float32)
    (tmp / "nans.npz").write_bytes(_npz_bytes(_sheep_like(train=[bad, np.full((3, 3), np.inf, np.float32)])))


def empty_test_npz(tmp):
    (tmp / "empty.npz").write_bytes(_npz_bytes(_sheep_like(test=[np.zeros((0, 3), np.int16)] * 2)))


def truncated(name, data):
    def setup(tmp):
        (tmp / name).write_bytes(data()[:300])
    return setup


def _sheep_bytes():
    return _npz_bytes(_sheep_like())


def _iam_cache_bytes(valid=True):
    n, L = 4, 12
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    info = dict(settings={}, n_train=n, n_valid=0, n_writer_groups=1, n_eligible_groups=0, drops={},
                notes={})
    np.savez_compressed(buf, offsets=rng.integers(-30, 30, (n * L, 2)).astype(np.int16),
                        eos=np.tile(np.r_[np.zeros(L - 1), 1].astype(np.uint8), n),
                        lengths=np.full(n, L, np.int64), texts=np.array("ab\nabc\nba\ncab"),
                        ids=np.array([f"x-{i}" for i in range(n)]), writers=np.array(["w"] * n),
                        is_valid=np.array([valid and i == 3 for i in range(n)]), scale=np.float64(10.0),
                        info=np.array(json.dumps(info)))
    return buf.getvalue()


def no_valid_cache(tmp):
    (tmp / "iam.npz").write_bytes(_iam_cache_bytes(valid=False))


def iam_archives_overflow(tmp):
    """IAM archives whose only line has a coordinate of 1e23: nothing usable is left."""
    import tarfile
    d = tmp / "data" / "iam-ondb"
    d.mkdir(parents=True)
    pts = "".join(f'<Point x="{x}" y="{y}" time="{t}"/>' for t, (x, y) in
                  enumerate([(100, 100), (10 ** 23, 120), (140, 130)] * 5))
    xml = f'<WhiteboardCaptureSession><StrokeSet><Stroke>{pts}</Stroke></StrokeSet></WhiteboardCaptureSession>'
    for name, member, body in (("lineStrokes-all.tar.gz", "lineStrokes/a01/a01-000/a01-000u-01.xml", xml),
                               ("ascii-all.tar.gz", "ascii/a01/a01-000/a01-000u.txt", "OCR:\n\nab\nCSR:\n\nab\n")):
        with tarfile.open(d / name, "w:gz") as tf:
            raw = body.encode()
            ti = tarfile.TarInfo(member)
            ti.size = len(raw)
            tf.addfile(ti, io.BytesIO(raw))


def with_file(name):
    return a_file(name, b"I am a file")


# ------------------------------------------------------------------------------------------------ cases
GEN = ["generate", "--ckpt", HW_SHIPPED, "--out", "{tmp}/o.svg"]
SAMPLE = ["sample", "--ckpt", SHEEP, "--out", "{tmp}/o.png"]

CASES = [
    # ------------------------------------------------------------------ handwriting: generate arguments
    Case("hw_text_empty", HW, GEN + ["--text", ""], names=["text", "''"]),
    Case("hw_text_blank", HW, GEN + ["--text", "   "], names=["text", "'   '"]),
    Case("hw_bias_negative", HW, GEN + ["--bias", "-5"], names=["bias", "-5"]),
    Case("hw_bias_nan", HW, GEN + ["--bias", "nan"], names=["bias", "nan"]),
    Case("hw_temperature_zero", HW, GEN + ["--temperature", "0"], names=["temperature", "0"]),
    Case("hw_temperature_inf", HW, GEN + ["--temperature", "inf"], names=["temperature", "inf"]),
    Case("hw_n_zero", HW, GEN + ["--n", "0"], names=["0"]),
    Case("hw_n_negative", HW, GEN + ["--n", "-3"], names=["-3"]),
    Case("hw_max_steps_negative", HW, GEN + ["--max-steps", "-1"], names=["-1", "steps"]),
    Case("hw_stop_tail_negative", HW, GEN + ["--stop-tail", "-7"], names=["-7"]),
    Case("hw_style_out_of_range", HW, GEN + ["--style", "99"], names=["style 99", "0..7"]),
    Case("hw_style_negative", HW, GEN + ["--style", "-1"], names=["style -1"]),
    Case("hw_prediction_given_text", HW, ["generate", "--task", "prediction", "--ckpt", HW_PRED, "--text",
                                          "hello", "--out", "{tmp}/o.svg"], names=["prediction", "hello"]),
    Case("hw_prediction_given_style", HW, ["generate", "--ckpt", HW_PRED, "--style", "1",
                                           "--out", "{tmp}/o.svg"], names=["prediction", "style"]),
    # ------------------------------------------------------------------------- handwriting: output paths
    Case("hw_out_under_file", HW, GEN + ["--out", "{tmp}/f/o.svg"], setup=with_file("f"),
         names=["{tmp}/f/o.svg"]),
    Case("hw_out_is_dir", HW, GEN + ["--out", "{tmp}"], names=["{tmp}", "directory"]),
    Case("hw_plot_attention_under_file", HW, GEN + ["--plot-attention", "{tmp}/f/a.png"],
         setup=with_file("f"), names=["{tmp}/f/a.png"]),
    Case("hw_prep_out_under_file", HW, ["prep", "--data-dir", "{tmp}", "--out", "{tmp}/f/c.npz"],
         setup=with_file("f"), names=["{tmp}/f/c.npz"]),
    # --------------------------------------------------------------------- handwriting: checkpoints
    Case("hw_nan_checkpoint", HW, ["generate", "--ckpt", "{tmp}/ck", "--text", "abc", "--out", "{tmp}/o.svg"],
         setup=nan_ckpt("hw"), names=["{tmp}/ck", "non-finite"]),
    Case("hw_given_sketch_checkpoint", HW, ["generate", "--ckpt", SHEEP, "--out", "{tmp}/o.svg"],
         names=[SHEEP, "Sketch-RNN checkpoint, not a handwriting"]),
    Case("hw_corrupt_meta", HW, ["generate", "--ckpt", "{tmp}/ck", "--out", "{tmp}/o.svg"],
         setup=bad_meta("hw"), names=["{tmp}/ck", "metadata"]),
    Case("hw_ckpt_missing", HW, ["generate", "--ckpt", "{tmp}/nope", "--out", "{tmp}/o.svg"],
         names=["{tmp}/nope"]),
    # ---------------------------------------------------------------------------- handwriting: data
    Case("hw_cache_truncated", HW, ["eval", "--ckpt", HW_SHIPPED, "--cache", "{tmp}/iam.npz"],
         setup=truncated("iam.npz", _iam_cache_bytes), names=["{tmp}/iam.npz"]),
    Case("hw_cache_garbage", HW, ["eval", "--ckpt", HW_SHIPPED, "--cache", "{tmp}/iam.npz"],
         setup=a_file("iam.npz", b"not a zip at all"), names=["{tmp}/iam.npz"]),
    Case("hw_prep_coordinate_overflow", HW, ["prep", "--no-progress", "--data-dir", "{tmp}/data",
                                             "--out", "{tmp}/c.npz"],
         setup=iam_archives_overflow, names=["no usable lines", "coordinate"]),
    Case("hw_train_no_validation_lines", HW,
         ["train", "--cache", "{tmp}/iam.npz", "--steps", "1", "--batch-size", "2", "--hidden", "4",
          "--layers", "1", "--n-mix", "1", "--n-gauss", "1", "--min-char-count", "1", "--max-len", "20",
          "--compile-cache", "", "--ckpt-dir", "{tmp}/run", "--no-progress"],
         setup=no_valid_cache, names=["{tmp}/iam.npz", "validation"]),
    # --------------------------------------------------------------------- sketch-rnn: data files
    Case("sketch_malicious_npz_system", SK, ["train", "--data", "{tmp}/evil.npz", "--ckpt-dir", "{tmp}/run"],
         setup=malicious_npz("system"), names=["{tmp}/evil.npz", "system"]),
    Case("sketch_malicious_npz_exec", SK, ["sample", "--ckpt", SHEEP, "--reconstruct", "--data",
                                           "{tmp}/evil.npz", "--out", "{tmp}/o.png"],
         setup=malicious_npz("exec"), names=["{tmp}/evil.npz", "exec"]),
    Case("sketch_string_npz", SK, ["train", "--data", "{tmp}/strings.npz", "--ckpt-dir", "{tmp}/run"],
         setup=string_npz, names=["{tmp}/strings.npz", "train"]),
    Case("sketch_nan_npz", SK, ["prep", "--data", "{tmp}/nans.npz", "--out", "{tmp}/o.npz"],
         setup=nan_npz, names=["{tmp}/nans.npz", "train", "non-finite"]),
    Case("sketch_truncated_npz", SK, ["prep", "--data", "{tmp}/cut.npz", "--out", "{tmp}/o.npz"],
         setup=truncated("cut.npz", _sheep_bytes), names=["{tmp}/cut.npz"]),
    Case("sketch_data_missing", SK, ["train", "--data", "{tmp}/nope.npz", "--ckpt-dir", "{tmp}/run"],
         names=["{tmp}/nope.npz"]),
    Case("sketch_empty_drawings_reconstruct", SK, SAMPLE + ["--reconstruct", "--data", "{tmp}/empty.npz"],
         setup=empty_test_npz, names=["{tmp}/empty.npz", "test"]),
    # ---------------------------------------------------------------------- sketch-rnn: arguments
    Case("sketch_pair_out_of_range", SK, SAMPLE + ["--interpolate", "--pair", "0", "99"], names=["99"]),
    Case("sketch_pair_negative", SK, SAMPLE + ["--interpolate", "--pair", "-1", "2"], names=["-1"]),
    Case("sketch_temperature_zero", SK, SAMPLE + ["--temperature", "0"], names=["temperature", "0"]),
    Case("sketch_temperature_negative", SK, SAMPLE + ["--temperature", "-1"], names=["temperature", "-1"]),
    Case("sketch_temperature_nan", SK, SAMPLE + ["--temperature", "nan"], names=["temperature", "nan"]),
    Case("sketch_n_zero", SK, SAMPLE + ["--n", "0"], names=["0"]),
    Case("sketch_n_negative", SK, SAMPLE + ["--n", "-2"], names=["-2"]),
    # ------------------------------------------------------------------- sketch-rnn: outputs, ckpts
    Case("sketch_out_under_file", SK, SAMPLE + ["--out", "{tmp}/f/o.png"], setup=with_file("f"),
         names=["{tmp}/f/o.png"]),
    Case("sketch_out_is_dir", SK, SAMPLE + ["--out", "{tmp}"], names=["{tmp}", "directory"]),
    Case("sketch_prep_out_under_file", SK, ["prep", "--data", "{tmp}/ok.npz", "--out", "{tmp}/f/o.npz"],
         setup=lambda tmp: (with_file("f")(tmp), (tmp / "ok.npz").write_bytes(_sheep_bytes())) and None,
         names=["{tmp}/f/o.npz"]),
    Case("sketch_nan_checkpoint", SK, ["sample", "--ckpt", "{tmp}/ck", "--n", "2", "--out", "{tmp}/o.svg"],
         setup=nan_ckpt("sketch"), names=["{tmp}/ck", "non-finite"]),
    Case("sketch_given_handwriting_checkpoint", SK, ["sample", "--ckpt", HW_SHIPPED, "--out", "{tmp}/o.png"],
         names=[HW_SHIPPED, "handwriting synthesis checkpoint, not a Sketch-RNN"]),
    Case("sketch_corrupt_meta", SK, ["sample", "--ckpt", "{tmp}/ck", "--out", "{tmp}/o.png"],
         setup=bad_meta("sketch"), names=["{tmp}/ck", "metadata"]),
    Case("sketch_ckpt_missing", SK, ["sample", "--ckpt", "{tmp}/nope", "--out", "{tmp}/o.png"],
         names=["{tmp}/nope"]),
]
