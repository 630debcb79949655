"""The Keras character seq2seq: one-hot inputs, masks, the batch layout, the jitted greedy search against the
teacher-forced pass, a tiny reverse task learned, and the facade's handling of bad input."""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.data.charset import Charset
from jaxseq.models.seq2seq import keras_char as kc
from jaxseq.training.loop import TrainConfig, fit

CS_SRC = Charset("abcd")
CS_TGT = Charset("abcd" + kc.START + kc.END)


def _pairs(n=256, seed=0, L=3):
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abcd"), rng.integers(1, L + 1))) for _ in range(n)]
    return [(CS_SRC.encode(w), CS_TGT.encode(kc.START + w[::-1] + kc.END)) for w in words], words


def test_one_hot_and_batch_layout():
    oh = np.asarray(kc.one_hot(jnp.array([0, 1, 3]), 4))
    np.testing.assert_array_equal(oh, [[0, 0, 0], [1, 0, 0], [0, 0, 1]])    # id 0 (pad/unknown): zeros
    ids, _ = _pairs(2)
    b = kc.make_batch(ids, 4, 5)
    assert b["tgt_in"].shape == b["tgt_out"].shape == (2, 5)
    start, end = CS_TGT.index[kc.START], CS_TGT.index[kc.END]
    assert (b["tgt_in"][:, 0] == start).all()
    for row, mask in zip(b["tgt_out"], b["tgt_mask"]):
        n = int(mask.sum())
        assert row[n - 1] == end and (row[n:] == 0).all()                   # "\n" ends, then padding


def test_padding_does_not_matter_and_greedy_matches_forward():
    cfg = kc.KerasCharConfig(CS_SRC.size, CS_TGT.size, 16)
    params = kc.init(jax.random.PRNGKey(0), cfg)
    ids, _ = _pairs(4, 1)
    b = kc.make_batch(ids, 4, 5)
    logits = kc.forward(params, cfg, b)
    b2 = dict(b, src=np.where(b["src_mask"] > 0, b["src"], 2))
    np.testing.assert_allclose(kc.forward(params, cfg, b2), logits, rtol=1e-5, atol=1e-6)
    start, end = CS_TGT.index[kc.START], CS_TGT.index[kc.END]
    toks, _ = kc.greedy(params, cfg, b["src"], b["src_mask"], 5, start, end)
    toks = np.asarray(toks)
    tf = kc.forward(params, cfg, dict(b, tgt_in=np.concatenate([np.full((4, 1), start), toks[:, :-1]], 1),
                                      tgt_mask=np.ones_like(b["tgt_mask"])))
    live = np.cumsum(toks == end, 1) - (toks == end) == 0
    np.testing.assert_array_equal(np.asarray(tf.argmax(-1))[live], toks[live])


def test_reverse_task_learned():
    ids, words = _pairs(256)
    cfg = kc.KerasCharConfig(CS_SRC.size, CS_TGT.size, 64)

    def batch_fn(step):
        idx = np.random.default_rng(step).choice(len(ids), 32, replace=False)
        return kc.make_batch([ids[i] for i in idx], 4, 5)
    params, _ = fit(kc.make_loss(cfg), kc.init(jax.random.PRNGKey(0), cfg), batch_fn,
                    TrainConfig(steps=400, lr=5e-3, optimizer="rmsprop_keras", progress=False, log_every=100))
    out = kc.translate_ids(params, cfg, [s for s, _ in ids[:64]], CS_TGT, 4, 5, batch_size=64)
    acc = np.mean([o == w[::-1] for o, w in zip(out, words[:64])])
    assert acc > 0.9, acc


def test_facade_bad_input():
    cfg = kc.KerasCharConfig(CS_SRC.size, CS_TGT.size, 8)
    meta = {"src_charset": CS_SRC.to_json(), "tgt_charset": CS_TGT.to_json(), "src_len": 5, "tgt_len": 6}
    tr = kc.CharTranslator(kc.init(jax.random.PRNGKey(0), cfg), cfg, meta)
    for bad in ["", "  ", "xyz", "?!"]:
        with pytest.raises(ValueError):
            tr.translate([bad])
    with pytest.raises(TypeError):
        tr.translate("abc")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = tr.translate([" ".join(["abc"] * 500), "abxc"])
    msgs = [str(x.message) for x in w]
    assert any(f"cut to its first {kc.MAX_CHARS}" in s for s in msgs)
    assert any("'x'" in s for s in msgs) and len(out) == 2                # unknown character: warned
