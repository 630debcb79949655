"""The chatbot (PyTorch chatbot tutorial model): shapes and masks, the masked NLL against a float64 numpy
reference, the search step against the teacher-forced pass, the teacher-forcing ratio, a tiny copy task
learned, and the facade's handling of bad input."""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.data import eng_fra
from jaxseq.data.vocab import EOS_ID, SOS_ID, Vocab
from jaxseq.models.seq2seq import chatbot as m
from jaxseq.models.seq2seq import chatbot_train as ct
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import GRU
from jaxseq.training.loop import TrainConfig, fit


def _batch(seed=0, B=3, S=6, T=5, V=12):
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(B):
        s = list(rng.integers(4, V, rng.integers(1, S))) + [EOS_ID]
        t = list(rng.integers(4, V, rng.integers(1, T))) + [EOS_ID]
        pairs.append((s, t))
    return eng_fra.make_batch(pairs, S, T)


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_shapes_and_padding_masks(score):
    cfg = m.ChatbotConfig(vocab=12, hidden=8, layers=2, score=score)
    params = m.init(jax.random.PRNGKey(0), cfg)
    b = _batch()
    logits, attn = m.forward(params, cfg, b, return_attn=True)
    assert logits.shape == (3, 5, 12) and attn.shape == (3, 5, 6)
    mask = b["src_mask"][:, None, :]
    np.testing.assert_array_equal(np.asarray(attn) * (1 - mask), 0.0)        # padding: zero weight
    np.testing.assert_allclose(np.asarray(attn).sum(-1), 1.0, rtol=1e-5)
    # what sits in the padded source positions does not matter
    b2 = dict(b, src=np.where(b["src_mask"] > 0, b["src"], 7))
    np.testing.assert_allclose(m.forward(params, cfg, b2), logits, rtol=1e-5, atol=1e-6)


def test_encoder_sums_directions():
    cfg = m.ChatbotConfig(vocab=12, hidden=8, layers=1)
    params = m.init(jax.random.PRNGKey(1), cfg)
    b = _batch(1)
    enc, finals = m.encode(params, cfg, b["src"], b["src_mask"])
    ys, (ff, fb) = rnn.run_bidirectional(GRU, params["enc"][0], params["emb"][b["src"]], mask=b["src_mask"])
    np.testing.assert_allclose(enc, ys[..., :8] + ys[..., 8:], rtol=1e-6)
    np.testing.assert_allclose(finals[0], ff + fb, rtol=1e-6)


def test_masked_nll_matches_numpy_float64():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 7, 11)).astype(np.float32) * 3
    targets = rng.integers(0, 11, (4, 7))
    mask = (rng.uniform(size=(4, 7)) < 0.6).astype(np.float32)
    mask[0] = 0.0                                       # a row with no real token
    lg = logits.astype(np.float64)
    logp = lg - lg.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    ref = (nll * mask).sum() / mask.sum()               # averaged over the real tokens only
    got = float(m.masked_nll(jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(mask)))
    assert abs(got - ref) < 1e-5 * max(1.0, abs(ref))


def test_search_step_matches_teacher_forced_pass():
    cfg = m.ChatbotConfig(vocab=12, hidden=8, layers=2, score="general")
    params = m.init(jax.random.PRNGKey(2), cfg)
    b = _batch(2)
    toks, _ = m.decode(params, cfg, b["src"], b["src_mask"], max_len=5)
    toks = np.asarray(toks)
    tgt_in = np.concatenate([np.full((3, 1), SOS_ID), toks[:, :-1]], 1)
    logits = m.forward(params, cfg, dict(b, tgt_in=tgt_in))
    greedy = np.asarray(jnp.argmax(logits, -1))
    live = np.cumsum(toks == EOS_ID, 1) - (toks == EOS_ID) == 0       # up to and including <eos>
    np.testing.assert_array_equal(greedy[live], toks[live])


def test_teacher_forcing_ratio():
    cfg = m.ChatbotConfig(vocab=12, hidden=8, layers=1, dropout=0.0)
    params = m.init(jax.random.PRNGKey(3), cfg)
    b, k = _batch(3), jax.random.PRNGKey(0)
    full = m.forward(params, cfg, b, k, tf_ratio=1.0)
    np.testing.assert_allclose(full, m.forward(params, cfg, b), rtol=1e-6)   # no dropout: same as eval
    own = m.forward(params, cfg, b, k, tf_ratio=0.0)
    np.testing.assert_allclose(own[:, 0], full[:, 0], rtol=1e-6)           # <sos> is always fed
    assert not np.allclose(own[:, 1:], full[:, 1:])


def test_copy_task_learned():
    V, L = 10, 4
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(4, V, rng.integers(1, L))) for _ in range(256)]
    pairs = [(s + [EOS_ID], s + [EOS_ID]) for s in seqs]
    cfg = m.ChatbotConfig(vocab=V, hidden=32, layers=1, dropout=0.0)

    def batch_fn(step):
        idx = np.random.default_rng(step).choice(len(pairs), 32, replace=False)
        return eng_fra.make_batch([pairs[i] for i in idx], L, L)
    params, _ = fit(m.make_loss(cfg), m.init(jax.random.PRNGKey(0), cfg), batch_fn,
                    TrainConfig(steps=300, lr=1e-2, progress=False, log_every=100))
    out = ct.replies(params, cfg, [p[0] for p in pairs[:64]], L, batch_size=64)
    acc = np.mean([o == p[1][:-1] for o, p in zip(out, pairs[:64])])
    assert acc > 0.9, acc


def _bot():
    words = ["my", "lord", "good", "sir", "?", "."]
    cfg = m.ChatbotConfig(vocab=4 + len(words), hidden=8, layers=1)
    meta = {"vocab": Vocab.build([words]).to_json(), "length": 10, "config": {"max_words": 10}}
    return ct.Chatbot(m.init(jax.random.PRNGKey(0), cfg), cfg, meta)


def test_facade_bad_input():
    bot = _bot()
    for bad in ["", "   ", "!!!  ,,,", "xyzzy plugh", "? ."]:
        with pytest.raises(ValueError):
            bot.reply([bad])
    with pytest.raises(TypeError):
        bot.reply("my lord")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        (out,) = bot.reply(["my lord " * 250])                # 500 words: cut, with a warning
        (out2,) = bot.reply(["my xyzzy lord"])
    msgs = [str(x.message) for x in w]
    assert any("cut to its first 30" in s for s in msgs) and any("xyzzy" in s for s in msgs)
    assert isinstance(out, str) and isinstance(out2, str)
