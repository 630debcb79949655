"""seq2seq family (simple, tutorial-attn, transformer): shapes, padding masks, the tutorial attention step
against a float64 numpy reference, the decoder step against the teacher-forced forward (the search and
training share one step), the label-smoothed loss against numpy, and a tiny reversal task each model
learns."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.data.vocab import EOS_ID, SOS_ID
from jaxseq.models.seq2seq import common, decode, simple, transformer, tutorial_attn
from jaxseq.training import loop

V = 12


def configs():
    return {"simple": simple.Config(V, V, emb=8, hidden=16),
            "simple-bilstm": simple.Config(V, V, emb=8, hidden=16, cell="lstm", bidirectional=True, layers=2),
            "tutorial-attn": tutorial_attn.Config(V, V, emb=8, hidden=16, max_length=9),
            "transformer": transformer.Config(V, V, d_model=16, heads=2, ff=32, enc_layers=2, dec_layers=2)}


def make_batch(B=3, S=7, T=6, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(4, V, (B, S)).astype(np.int32)
    src[1, 5:] = 0
    src[2, 3:] = 0
    out = rng.integers(4, V, (B, T)).astype(np.int32)
    tgt_in = np.concatenate([np.full((B, 1), SOS_ID), out[:, :-1]], 1).astype(np.int32)
    return {"src": src, "src_mask": (src != 0).astype(np.float32), "tgt_in": tgt_in, "tgt_out": out,
            "tgt_mask": np.ones((B, T), np.float32)}


@pytest.mark.parametrize("name", list(configs()))
def test_shapes_and_step_matches_forward(name):
    cfg = configs()[name]
    mod = common.module_of(cfg)
    params = mod.init(jax.random.PRNGKey(0), cfg)
    b = make_batch()
    logits, attn = jax.jit(lambda p, b: mod.forward(p, cfg, b, return_attn=True))(params, b)
    assert logits.shape == (3, 6, V) and logits.dtype == jnp.float32
    if cfg.name == "simple":
        assert attn is None
    else:
        assert attn.shape == (3, 6, cfg.max_length if cfg.name == "tutorial-attn" else 7)

    @jax.jit
    def stepped(params, b):   # the step that search drives reproduces the teacher-forced logits
        state, steps = mod.decoder_start(params, cfg, b["src"], b["src_mask"], 6), []
        for t in range(6):
            state, lg = mod.decoder_step(params, cfg, state, b["tgt_in"][:, t])
            steps.append(lg)
        return jnp.stack(steps, 1)
    np.testing.assert_allclose(stepped(params, b), logits, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["simple", "tutorial-attn", "transformer"])
def test_padding_gets_zero_attention_and_changes_nothing(name):
    cfg = configs()[name]
    mod = common.module_of(cfg)
    params = mod.init(jax.random.PRNGKey(1), cfg)
    b = make_batch(S=7)
    wide = dict(b, src=np.pad(b["src"], ((0, 0), (0, 2))), src_mask=np.pad(b["src_mask"], ((0, 0), (0, 2))))
    fwd = jax.jit(lambda p, b: mod.forward(p, cfg, b, return_attn=True))
    (la, _), (lb, wb) = fwd(params, b), fwd(params, wide)
    np.testing.assert_allclose(la, lb, rtol=1e-5, atol=1e-5)   # more padding: the same outputs
    if wb is not None:
        mask = np.asarray(tutorial_attn.fit_length(wide["src"][..., None], wide["src_mask"], cfg.max_length)[1]
                          if cfg.name == "tutorial-attn" else wide["src_mask"])
        w = np.asarray(wb)
        assert np.all(w[np.broadcast_to(mask[:, None, :] == 0, w.shape)] == 0.0)
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)


def test_tutorial_attention_step_against_numpy(x64):
    cfg = tutorial_attn.Config(V, V, emb=5, hidden=6, max_length=4, dropout=0.0)
    p = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64),
                               tutorial_attn.init(jax.random.PRNGKey(2), cfg))
    rng = np.random.default_rng(0)
    h = rng.normal(size=(2, 6))
    enc = rng.normal(size=(2, 4, 6))
    enc_mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float64)
    tok = np.array([5, 7])
    h1, logits, w = tutorial_attn.step(p, cfg, jnp.asarray(h), jnp.asarray(tok), jnp.asarray(enc),
                                       jnp.asarray(enc_mask))
    n = jax.tree_util.tree_map(np.asarray, p)
    # the tutorial's AttnDecoderRNN.forward, in numpy, with the scores of padding set to -inf
    e = n["tgt_emb"][tok]
    s = np.concatenate([e, h], -1) @ n["attn"]["w"] + n["attn"]["b"]
    s = np.where(enc_mask > 0, s, -np.inf)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    x = np.maximum(np.concatenate([e, np.einsum("bm,bmh->bh", a, enc)], -1) @ n["combine"]["w"]
                   + n["combine"]["b"], 0)
    g = n["gru"]
    xr, xz, xn = np.split(x @ g["wx"] + g["b"], 3, -1)
    hr, hz, hn = np.split(h @ g["wh"] + g["bh"], 3, -1)
    sig = lambda v: 1 / (1 + np.exp(-v))
    r, z = sig(xr + hr), sig(xz + hz)
    ref_h = (1 - z) * np.tanh(xn + r * hn) + z * h
    np.testing.assert_allclose(w, a, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h1, ref_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(logits, ref_h @ n["out_w"] + n["out_b"], rtol=1e-12, atol=1e-12)


def test_label_smoothed_loss_against_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5))
    tgt = rng.integers(0, 5, (2, 3))
    mask = np.array([[1, 1, 0], [1, 0, 0]], np.float64)
    loss, m = common.token_loss(jnp.asarray(logits, jnp.float32), jnp.asarray(tgt), jnp.asarray(mask), 0.1)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    q = 0.9 * np.eye(5)[tgt] + 0.1 / 5
    ref = (-(q * logp).sum(-1) * mask).sum() / mask.sum()
    nll = (-np.take_along_axis(logp, tgt[..., None], -1)[..., 0] * mask).sum() / mask.sum()
    np.testing.assert_allclose(float(loss), ref, rtol=1e-6)   # losses are float32 by policy
    np.testing.assert_allclose(float(m["nll"]), nll, rtol=1e-6)


def test_teacher_forcing_ratio_zero_is_free_running():
    cfg = simple.Config(V, V, emb=8, hidden=16, tf_ratio=0.0, dropout=0.0)
    params = simple.init(jax.random.PRNGKey(3), cfg)
    b = make_batch(T=5)
    free = jax.jit(lambda p, b, k: simple.forward(p, cfg, b, k))(params, b, jax.random.PRNGKey(0))

    @jax.jit
    def greedy_logits(params, b):   # greedy decoding feeds the argmax back, as ratio 0 trains
        state = simple.decoder_start(params, cfg, b["src"], b["src_mask"])
        tok, steps = jnp.full((3,), SOS_ID), []
        for _ in range(5):
            state, lg = simple.decoder_step(params, cfg, state, tok)
            tok = lg.argmax(-1)
            steps.append(lg)
        return jnp.stack(steps, 1)
    np.testing.assert_allclose(free, greedy_logits(params, b), rtol=1e-5, atol=1e-6)
    forced = simple.forward(params, dataclasses.replace(cfg, tf_ratio=1.0), b, jax.random.PRNGKey(0))
    assert not np.allclose(forced, free)


# ------------------------------------------------------------------------------- a tiny task learned
def reverse_batch(step, B=64, V=10):
    """Sources of 3-5 tokens in [4, V), targets the reversed sequence; ids end with <eos>."""
    rng = np.random.default_rng(step)
    S = 6
    src = np.zeros((B, S), np.int32)
    out = np.zeros((B, S), np.int32)
    for i in range(B):
        n = rng.integers(3, 6)
        s = rng.integers(4, V, n)
        src[i, :n + 1] = list(s) + [EOS_ID]
        out[i, :n + 1] = list(s[::-1]) + [EOS_ID]
    tgt_in = np.concatenate([np.full((B, 1), SOS_ID), out[:, :-1]], 1).astype(np.int32)
    return {"src": src, "src_mask": (src != 0).astype(np.float32), "tgt_in": tgt_in, "tgt_out": out,
            "tgt_mask": (out != 0).astype(np.float32)}


TINY = {"simple": (simple.Config(10, 10, emb=16, hidden=64, tf_ratio=1.0, dropout=0.0), 400),
        "tutorial-attn": (tutorial_attn.Config(10, 10, emb=16, hidden=64, max_length=6, tf_ratio=1.0,
                                               dropout=0.0), 250),
        "transformer": (transformer.Config(10, 10, d_model=32, heads=2, ff=64, enc_layers=1, dec_layers=1,
                                           dropout=0.0, label_smoothing=0.0), 350)}


@pytest.mark.parametrize("name", list(TINY))
def test_each_model_learns_to_reverse(name):
    cfg, steps = TINY[name]
    mod = common.module_of(cfg)
    params = mod.init(jax.random.PRNGKey(0), cfg)
    params, _ = loop.fit(common.make_loss(cfg), params, reverse_batch,
                         loop.TrainConfig(steps=steps, lr=1e-2, warmup=20, progress=False, log_every=100))
    b = reverse_batch(10_000)
    toks = np.asarray(decode.search_ids(params, cfg, b["src"], b["src_mask"], 6, beam=1)[0])
    exact = np.mean([np.array_equal(t[m > 0], o[m > 0]) for t, o, m in zip(toks, b["tgt_out"], b["tgt_mask"])])
    assert exact >= 0.9, f"{name}: {exact:.2f} of held-out sequences reversed exactly"


def test_throughput_from_history():
    from jaxseq.models.seq2seq.training import throughput
    hist = [{"step": 50, "tokens": 100.0, "steps_per_s": 0.5},   # compiling: left out of the rate
            {"step": 100, "tokens": 100.0, "steps_per_s": 10.0},
            {"step": 100, "val_bleu": 3.0},                        # eval rows are not intervals
            {"step": 150, "tokens": 100.0, "steps_per_s": 20.0},
            {"step": 200, "tokens": 100.0, "steps_per_s": 30.0}]
    t = throughput(hist)
    assert t["tokens_per_s"] == 2000.0 and t["seconds"] == 100 + 5 + 2.5 + 50 / 30
    assert throughput([{"step": 1, "val_bleu": 1.0}]) == {"tokens_per_s": None, "seconds": None}
