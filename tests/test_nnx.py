"""jaxseq.nnx: each Flax NNX module equals its pure function (outputs and gradients), params move both
ways between the two APIs (shipped checkpoints included), and the documented example trains."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxseq import nnx as jnnx
from jaxseq.nn import attention, mixtures
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import get_cell
from jaxseq.nn.layers import dense

ROOT = Path(__file__).resolve().parents[1]
B, T, D = 3, 5, 4
LENGTHS = jnp.array([5, 3, 1])
MASK = (jnp.arange(T) < LENGTHS[:, None]).astype(jnp.float32)


def assert_trees_close(a, b, tol=1e-6):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def normal(seed, shape):
    return jax.random.normal(jax.random.key(seed), shape)


# ------------------------------------------------------------------------------------- recurrent
@pytest.mark.parametrize("cls,kw,reverse", [
    (jnnx.LSTM, {}, False),
    (jnnx.LSTM, {"layer_norm": True, "forget_bias": 0.5}, True),
    (jnnx.GRU, {}, True),
    (jnnx.RNN, {}, False),
])
def test_recurrent_equals_scan_run(cls, kw, reverse):
    hidden = 6
    layer = cls(D, hidden, rngs=nnx.Rngs(0), reverse=reverse, **kw)
    name = cls.__name__.lower()
    assert layer.get_params().keys() == get_cell(name).init(jax.random.key(0), D, hidden, **kw).keys()
    xs = normal(1, (B, T, D))
    carry = jax.tree_util.tree_map(lambda z: normal(2, z.shape), layer.zeros(B))
    ys, final = layer(xs, MASK, carry)
    ref = rnn.run(get_cell(name), layer.get_params(), xs, mask=MASK, carry=carry, reverse=reverse)
    assert_trees_close((ys, final), ref)
    assert ys.shape == (B, T, hidden)
    assert float(jnp.abs(ys[2, 1:]).max()) == 0.0          # padding outputs are zero
    # one step at a time through .step equals the hoisted scan (no mask, forward)
    if not reverse:
        c = carry
        for t in range(T):
            c, y = layer.step(c, xs[:, t])
        assert_trees_close(c, layer(xs, carry=carry)[1], tol=1e-5)


def test_bidirectional_equals_run_bidirectional_and_two_layers():
    bi = jnnx.Bidirectional("gru", D, 5, rngs=nnx.Rngs(3))
    xs = normal(4, (B, T, D))
    ys, (ff, fb) = bi(xs, MASK)
    assert_trees_close((ys, (ff, fb)), rnn.run_bidirectional(get_cell("gru"), bi.get_params(), xs,
                                                             mask=MASK))
    # the same weights in two one-way layers give the two halves
    p = bi.get_params()
    fw = jnnx.GRU(D, 5, rngs=nnx.Rngs(0)).set_params(p["fw"])
    bw = jnnx.GRU(D, 5, rngs=nnx.Rngs(0), reverse=True).set_params(p["bw"])
    assert_trees_close((ys[..., :5], ff), fw(xs, MASK))
    assert_trees_close((ys[..., 5:], fb), bw(xs, MASK))
    # reverse + mask: the backward pass starts at each sequence's own last step
    rev = rnn.reverse_padded(xs, LENGTHS)
    yr, fr = jnnx.GRU(D, 5, rngs=nnx.Rngs(0)).set_params(p["bw"])(rev, MASK)
    assert_trees_close((rnn.reverse_padded(yr, LENGTHS), fr), (ys[..., 5:], fb), tol=1e-5)


# ----------------------------------------------------------------------------------------- heads
def test_mixture_head_equals_mixtures():
    head = jnnx.MixtureHead(D, 3, rngs=nnx.Rngs(5))
    p = head.get_params()
    assert p["w"].shape == (D, mixtures.bivariate_size(3))
    h = normal(6, (B, T, D))
    target = jnp.concatenate([normal(7, (B, T, 2)), (normal(8, (B, T, 1)) > 0).astype(jnp.float32)], -1)
    ref = mixtures.split_bivariate(dense(p, h), 3, bias=0.5, temperature=0.7)
    assert_trees_close(head(h, bias=0.5, temperature=0.7), ref)
    mix = mixtures.split_bivariate(dense(p, h), 3)
    assert_trees_close(head.nll(h, target, MASK), mixtures.stroke_nll(mix, target, MASK))
    assert_trees_close(head.log_prob(h, target[..., 0], target[..., 1]),
                       mixtures.bivariate_log_prob(mix, target[..., 0], target[..., 1]))
    key = jax.random.key(9)
    assert_trees_close(head.sample(key, h), mixtures.sample_bivariate(key, mix))
    pen3 = jnnx.MixtureHead(D, 2, n_pen=3, rngs=nnx.Rngs(0))
    assert pen3(h)["pen_logits"].shape == (B, T, 3)
    with pytest.raises(ValueError, match="n_pen=3"):
        pen3.nll(h, target)


def test_graves_window_equals_attention():
    U, V, K = 7, 6, 2
    win = jnnx.GravesWindow(D, K, rngs=nnx.Rngs(10), kappa_scale=0.3)
    h = normal(11, (B, D))
    kappa = jnp.abs(normal(12, (B, K)))
    chars = jax.nn.one_hot(jax.random.randint(jax.random.key(13), (B, U), 0, V), V)
    cmask = (jnp.arange(U) < jnp.array([7, 4, 2])[:, None]).astype(jnp.float32)
    ref = attention.graves_window(dense(win.get_params(), h), kappa, chars, cmask, kappa_scale=0.3)
    assert_trees_close(win(h, kappa, chars, cmask), ref)
    assert win.zeros(B).shape == (B, K)


@pytest.mark.parametrize("score", attention.SCORES)
def test_luong_attention_equals_luong_attend(score):
    S, Hd = 6, 5
    He = Hd if score == "dot" else 7
    attn = jnnx.LuongAttention(score, Hd, He, rngs=nnx.Rngs(14))
    enc, h = normal(15, (B, S, He)), normal(16, (B, T, Hd))
    smask = (jnp.arange(S) < jnp.array([6, 2, 4])[:, None]).astype(jnp.float32)
    p = attn.get_params()
    per_step = [attention.luong_attend(p, score, h[:, t], enc, smask) for t in range(T)]
    assert_trees_close(attn(h[:, 0], enc, smask), per_step[0])
    ctx, w = attn(h, enc, smask)                            # all decoder steps at once
    assert ctx.shape == (B, T, He) and w.shape == (B, T, S)
    assert_trees_close((ctx, w), jax.tree_util.tree_map(lambda *a: jnp.stack(a, 1), *per_step))
    assert_trees_close(attn(h, enc, smask, attn.precompute(enc)), (ctx, w), tol=1e-5)


# ------------------------------------------------------------------------------------- gradients
class _Stack(nnx.Module):
    """Every module in one graph: bi-GRU -> reverse LSTM -> Luong concat -> window -> mixture head."""

    def __init__(self, rngs):
        self.bi = jnnx.Bidirectional("gru", D, 3, rngs=rngs)
        self.lstm = jnnx.LSTM(6, 4, rngs=rngs, reverse=True)
        self.attn = jnnx.LuongAttention("concat", 4, 6, 5, rngs=rngs)
        self.win = jnnx.GravesWindow(4, 2, rngs=rngs)
        self.head = jnnx.MixtureHead(4 + 6 + 3, 2, rngs=rngs)


def _stack_loss(params, xs, target, chars):
    """The pure-function twin of _Stack's forward pass (the same params, as plain dicts)."""
    enc, _ = rnn.run_bidirectional(get_cell("gru"), params["bi"], xs, mask=MASK)
    dec, _ = rnn.run(get_cell("lstm"), params["lstm"], enc, mask=MASK, reverse=True)
    ctx, _ = jax.vmap(lambda q: attention.luong_attend(params["attn"], "concat", q, enc, MASK),
                      1, 1)(dec)
    window, _, _ = attention.graves_window(dense(params["win"], dec[:, -1]), jnp.zeros((B, 2)),
                                           chars, jnp.ones(chars.shape[:2]))
    feats = jnp.concatenate([dec, ctx, jnp.broadcast_to(window[:, None], (B, T, 3))], -1)
    return mixtures.stroke_nll(mixtures.split_bivariate(dense(params["head"], feats), 2),
                               target, MASK).mean()


def _module_loss(m, xs, target, chars):
    enc, _ = m.bi(xs, MASK)
    dec, _ = m.lstm(enc, MASK)
    ctx, _ = m.attn(dec, enc, MASK)
    window, _, _ = m.win(dec[:, -1], m.win.zeros(B), chars, jnp.ones(chars.shape[:2]))
    feats = jnp.concatenate([dec, ctx, jnp.broadcast_to(window[:, None], (B, T, 3))], -1)
    return m.head.nll(feats, target, MASK).mean()


def test_gradients_equal_pure_gradients():
    m = _Stack(nnx.Rngs(17))
    xs = normal(18, (B, T, D))
    target = jnp.concatenate([normal(19, (B, T, 2)), jnp.zeros((B, T, 1))], -1)
    chars = jax.nn.one_hot(jnp.array([[0, 1, 2], [2, 2, 1], [1, 0, 0]]), 3)
    loss, grads = nnx.jit(nnx.value_and_grad(_module_loss))(m, xs, target, chars)
    params = {k: getattr(m, k).get_params() for k in ("bi", "lstm", "attn", "win", "head")}
    ref_loss, ref_grads = jax.jit(jax.value_and_grad(_stack_loss))(params, xs, target, chars)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    got = {k: v["params"] for k, v in nnx.to_pure_dict(grads).items()}
    assert_trees_close(got, ref_grads, tol=1e-5)
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree_util.tree_leaves(got))


# ---------------------------------------------------------------------------- params both ways
def test_set_params_checks_structure_and_shapes():
    layer = jnnx.LSTM(D, 6, rngs=nnx.Rngs(0))
    p = layer.get_params()
    with pytest.raises(ValueError, match=r"\['wh'\].*\(6, 24\)"):
        layer.set_params({**p, "wh": jnp.zeros((5, 24))})
    with pytest.raises(ValueError, match="does not match"):
        layer.set_params({"wx": p["wx"]})
    other = jnnx.LSTM(D, 6, rngs=nnx.Rngs(1))
    assert not jnp.array_equal(other.get_params()["wx"], p["wx"])
    assert_trees_close(other.set_params(p).get_params(), p, tol=0)


def test_shipped_checkpoints_load_into_modules():
    from jaxseq.training.checkpoint import load_for_sampling
    nmt_dir, hw_dir = ROOT / "ckpt/nmt_luong/eng-fra", ROOT / "ckpt/handwriting_synthesis"
    if not (nmt_dir.is_dir() and hw_dir.is_dir()):
        pytest.skip("shipped checkpoints not present")
    params, meta = load_for_sampling(nmt_dir)
    cfg = meta["config"]
    E, H = cfg["emb"], cfg["hidden"]
    enc = jnnx.Bidirectional("lstm", E, H // 2, rngs=nnx.Rngs(0)).set_params(params["enc"][0])
    attn = jnnx.LuongAttention(cfg["score"], H, H, rngs=nnx.Rngs(0)).set_params(params["attn"])
    assert_trees_close(enc.get_params(), params["enc"][0], tol=0)
    q, keys = normal(20, (B, H)), normal(21, (B, T, H))
    assert_trees_close(attn(q, keys, MASK),
                       attention.luong_attend(params["attn"], cfg["score"], q, keys, MASK))

    params, meta = load_for_sampling(hw_dir)
    cfg = meta["config"]
    win = jnnx.GravesWindow(cfg["hidden"], cfg["n_gauss"], rngs=nnx.Rngs(0),
                            kappa_scale=cfg["kappa_scale"]).set_params(params["window"])
    head = jnnx.MixtureHead(cfg["layers"] * cfg["hidden"], cfg["n_mix"],
                            rngs=nnx.Rngs(0)).set_params(params["out"])
    assert_trees_close(head.get_params(), params["out"], tol=0)
    assert_trees_close(win.get_params(), params["window"], tol=0)


# ---------------------------------------------------------------------------------- docs, import
def _doc_blocks():
    text = (ROOT / "docs" / "flax_nnx.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_doc_example_trains():
    """docs/flax_nnx.md's code blocks run in order in one namespace; its own asserts check that the
    loss of the composed model falls below a fifth with nnx.Optimizer + optax."""
    blocks = _doc_blocks()
    assert len(blocks) >= 3
    namespace = {"__name__": "__flax_nnx_doc__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/flax_nnx.md python block {i}", "exec"), namespace)
    losses = namespace["losses"]
    assert len(losses) >= 30 and losses[-1] < 0.2 * losses[0]


def test_import_jaxseq_does_not_import_flax():
    code = ("import sys, jaxseq, jaxseq.nn.scan, jaxseq.nn.attention, jaxseq.nn.mixtures; "
            "assert 'flax' not in sys.modules, 'flax imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
