"""The Sketch-RNN Python API (``from jaxseq import sketch_rnn``): the shipped checkpoint from any folder,
sampling, reconstruction, interpolation, saving, and the errors a user can meet."""
from __future__ import annotations

import numpy as np
import pytest

from jaxseq import sketch_rnn
from jaxseq.errors import DataError
from jaxseq.models.sketch_rnn import SketchConfig, SketchRNN
from jaxseq.training.checkpoint import Checkpointer


@pytest.fixture(scope="module")
def sheep():
    return sketch_rnn.load("sheep")


def check_drawings(drawings, n, max_len=250):
    assert len(drawings) == n
    for d in drawings:
        assert d.ndim == 2 and d.shape[1] == 3 and 0 < len(d) <= max_len
        assert np.isfinite(d).all() and set(np.unique(d[:, 2])) <= {0.0, 1.0}


def test_load_shipped_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)        # the README's examples and the CLI work outside the checkout
    m = sketch_rnn.load()
    assert m.path == sketch_rnn.resolve_checkpoint("sheep") == sketch_rnn.resolve_checkpoint(
        "ckpt/sketch_rnn/sheep")
    assert "sheep" in sketch_rnn.shipped()
    assert m.step == 5684 and m.meta["init_from"]["step"] == 5635 and m.config.conditional and abs(m.scale - 18.52) < 0.01
    assert len(m.examples) == 8 and all(e.shape[1] == 3 for e in m.examples)


def test_sample_reconstruct_interpolate_save(sheep, tmp_path):
    a = sheep.sample(2, seed=0)
    check_drawings(a, 2)
    b = sheep.sample(2, seed=0)
    for x, y in zip(a, b):                              # same seed, same drawings
        np.testing.assert_array_equal(x, y)
    c = sheep.sample(2, seed=1)
    assert any(len(x) != len(y) or not np.array_equal(x, y) for x, y in zip(a, c))
    ex = sheep.examples[:2]
    check_drawings(sheep.reconstruct(ex, temperature=0.2, seed=0), 2)
    mid = sheep.interpolate(ex[0], ex[1], steps=2, seed=0)
    check_drawings(mid, 2)
    z = sheep.encode(ex)
    assert z.shape == (2, sheep.config.z_size) and np.isfinite(z).all()
    svg = sheep.save(a, tmp_path / "s.svg")
    assert svg.read_text().startswith("<svg") and svg.read_text().count("<g ") == 2
    png = sheep.save(a + mid, tmp_path / "grid.png", titles=["a", "b", "c", "d"])
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_evaluate_examples(sheep):
    m = sheep.evaluate(sheep.examples, batch_size=8)
    assert np.isfinite(m["lr"]) and m["kl"] > 0
    np.testing.assert_allclose(m["lr"], m["l_s"] + m["l_p"], rtol=1e-5)
    cfg = sheep.config          # the selection metric: the fully annealed objective
    np.testing.assert_allclose(m["loss"], m["lr"] + cfg.w_kl * max(m["kl"], cfg.kl_min), rtol=1e-5)


def test_user_errors(tmp_path):
    with pytest.raises(DataError, match="not a shipped name"):
        sketch_rnn.load("no_such_model")
    with pytest.raises(DataError, match="does not exist|not a directory"):
        sketch_rnn.load(str(tmp_path / "missing"))
    other = tmp_path / "other"
    ck = Checkpointer(other)
    ck.save(1, {"w": np.zeros(2, np.float32)}, meta={"model": "vae"})
    ck.close()
    with pytest.raises(DataError, match="other is an unrecognised checkpoint, not a Sketch-RNN one"):
        sketch_rnn.load(str(other))
    decoder_only = SketchRNN({}, SketchConfig(conditional=False), 1.0, {}, path=other)
    for call in (lambda: decoder_only.reconstruct([np.zeros((3, 3))]),
                 lambda: decoder_only.interpolate(np.zeros((3, 3)), np.zeros((3, 3))),
                 lambda: decoder_only.encode([np.zeros((3, 3))])):
        with pytest.raises(ValueError, match="unconditional"):
            call()
