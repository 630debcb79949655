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
from jaxseq.nn.cells import GRU, LSTM, RNN, get_cell
from jaxseq.nn.layers import dense, dense_init

ROOT = Path(__file__).resolve().parents[1]
B, T, D = 3, 5, 4
LENGTHS = jnp.array([5, 3, 1])
MASK = (jnp.arange(T) < LENGTHS[:, None]).astype(jnp.float32)


def assert_trees_close(a, b, tol=0.0):
    """Equal trees; ``tol=0`` (the default) asks for bit-identical arrays."""
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def normal(seed, shape, scale=1.0):
    """Test data from numpy: jax.random would compile once per shape, seconds on a small CPU."""
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape) * scale, jnp.float32)


def build(cls, seed, *args, **kw):
    """``cls(*args, **kw)`` holding random params drawn by numpy, loaded through ``from_params``."""
    shapes = nnx.eval_shape(lambda: cls(*args, rngs=nnx.Rngs(0), **kw)).get_params()
    leaves, tree = jax.tree_util.tree_flatten(shapes)
    params = [normal(seed + i, leaf.shape, 0.5) for i, leaf in enumerate(leaves)]
    return cls.from_params(jax.tree_util.tree_unflatten(tree, params), *args, **kw)


# ------------------------------------------------------------------------------ params = pure init's
@pytest.mark.parametrize("cls,args,kw,pure_init", [
    (jnnx.LSTM, (D, 6), {"layer_norm": True}, lambda k: LSTM.init(k, D, 6, layer_norm=True)),
    (jnnx.GRU, (D, 6), {}, lambda k: GRU.init(k, D, 6)),
    (jnnx.RNN, (D, 6), {}, lambda k: RNN.init(k, D, 6)),
    (jnnx.Bidirectional, ("lstm", D, 6), {}, lambda k: rnn.bidirectional_init(LSTM, k, D, 6)),
    (jnnx.MixtureHead, (D, 3), {"n_pen": 3}, lambda k: dense_init(k, D, mixtures.bivariate_size(3, 3))),
    (jnnx.GravesWindow, (D, 2), {}, lambda k: dense_init(k, D, attention.window_size(2))),
    (jnnx.LuongAttention, ("concat", 5, 7, 9), {}, lambda k: attention.luong_init(k, "concat", 5, 7, 9)),
    (jnnx.LuongAttention, ("dot", 5, 5), {}, lambda k: attention.luong_init(k, "dot", 5, 5)),
])
def test_module_params_are_the_pure_init_pytree(cls, args, kw, pure_init):
    module = nnx.eval_shape(lambda: cls(*args, rngs=nnx.Rngs(0), **kw))
    spec = lambda t: jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), t)
    assert spec(module.get_params()) == spec(jax.eval_shape(pure_init, jax.random.key(0)))


def test_module_init_is_the_pure_init_with_a_key_from_rngs():
    assert_trees_close(jnnx.LuongAttention("general", 5, 7, rngs=nnx.Rngs(7)).get_params(),
                       attention.luong_init(nnx.Rngs(7).params(), "general", 5, 7))


# ------------------------------------------------------------------------------------- recurrent
@pytest.mark.parametrize("cls,kw,reverse", [
    (jnnx.LSTM, {}, False),
    (jnnx.LSTM, {"layer_norm": True, "forget_bias": 0.5}, True),
    (jnnx.GRU, {}, True),
    (jnnx.RNN, {}, False),
])
def test_recurrent_equals_scan_run(cls, kw, reverse):
    hidden = 6
    layer = build(cls, 0, D, hidden, reverse=reverse, **kw)
    name = cls.__name__.lower()
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
    bi = build(jnnx.Bidirectional, 3, "gru", D, 5)
    xs = normal(4, (B, T, D))
    ys, (ff, fb) = bi(xs, MASK)
    assert_trees_close((ys, (ff, fb)), rnn.run_bidirectional(get_cell("gru"), bi.get_params(), xs,
                                                             mask=MASK))
    # the same weights in two one-way layers give the two halves
    p = bi.get_params()
    fw = jnnx.GRU.from_params(p["fw"], D, 5)
    bw = jnnx.GRU.from_params(p["bw"], D, 5, reverse=True)
    assert_trees_close((ys[..., :5], ff), fw(xs, MASK))
    assert_trees_close((ys[..., 5:], fb), bw(xs, MASK))
    # reverse + mask: the backward pass starts at each sequence's own last step
    rev = rnn.reverse_padded(xs, LENGTHS)
    yr, fr = jnnx.GRU.from_params(p["bw"], D, 5)(rev, MASK)
    assert_trees_close((rnn.reverse_padded(yr, LENGTHS), fr), (ys[..., 5:], fb), tol=1e-5)


# ----------------------------------------------------------------------------------------- heads
def test_mixture_head_equals_mixtures():
    head = build(jnnx.MixtureHead, 5, D, 3)
    p = head.get_params()
    assert p["w"].shape == (D, mixtures.bivariate_size(3))
    h = normal(6, (B, T, D))
    target = jnp.concatenate([normal(7, (B, T, 2)), (normal(8, (B, T, 1)) > 0).astype(jnp.float32)], -1)
    key = jax.random.key(9)

    @jax.jit
    def module_and_pure(h, target):  # one compile for the two (this CPU compiles slowly)
        mix = mixtures.split_bivariate(dense(p, h), 3)
        return ((head(h, bias=0.5, temperature=0.7), head.nll(h, target, MASK),
                 head.log_prob(h, target[..., 0], target[..., 1]), head.sample(key, h)),
                (mixtures.split_bivariate(dense(p, h), 3, bias=0.5, temperature=0.7),
                 mixtures.stroke_nll(mix, target, MASK),
                 mixtures.bivariate_log_prob(mix, target[..., 0], target[..., 1]),
                 mixtures.sample_bivariate(key, mix)))

    assert_trees_close(*module_and_pure(h, target))
    pen3 = build(jnnx.MixtureHead, 0, D, 2, n_pen=3)
    assert pen3(h)["pen_logits"].shape == (B, T, 3)
    with pytest.raises(ValueError, match="n_pen=3"):
        pen3.nll(h, target)


def test_graves_window_equals_attention():
    U, V, K = 7, 6, 2
    win = build(jnnx.GravesWindow, 10, D, K, kappa_scale=0.3)
    h = normal(11, (B, D))
    kappa = jnp.abs(normal(12, (B, K)))
    chars = jax.nn.one_hot(np.random.default_rng(13).integers(0, V, (B, U)), V)
    cmask = (jnp.arange(U) < jnp.array([7, 4, 2])[:, None]).astype(jnp.float32)
    ref = attention.graves_window(dense(win.get_params(), h), kappa, chars, cmask, kappa_scale=0.3)
    assert_trees_close(win(h, kappa, chars, cmask), ref)
    assert win.zeros(B).shape == (B, K)


@pytest.mark.parametrize("score", attention.SCORES)
def test_luong_attention_equals_luong_attend(score):
    S, Hd = 6, 5
    He = Hd if score == "dot" else 7
    attn = build(jnnx.LuongAttention, 14, score, Hd, He)
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
    """Modules in one graph: reverse LSTM -> Luong concat over its inputs -> Graves window -> mixture
    head (the bidirectional layer is two such scans, checked above)."""

    def __init__(self):
        self.lstm = build(jnnx.LSTM, 30, D, 4, reverse=True)
        self.attn = build(jnnx.LuongAttention, 40, "concat", 4, D, 5)
        self.win = build(jnnx.GravesWindow, 50, 4, 2)
        self.head = build(jnnx.MixtureHead, 60, 4 + D + 3, 2)


def _features(dec, ctx, window):
    return jnp.concatenate([dec, ctx, jnp.broadcast_to(window[:, None], (B, T, 3))], -1)


def _module_loss(m, xs, target, chars):
    dec, _ = m.lstm(xs, MASK)
    ctx, _ = m.attn(dec, xs, MASK)
    window, _, _ = m.win(dec[:, 0], m.win.zeros(B), chars, jnp.ones(chars.shape[:2]))
    return m.head.nll(_features(dec, ctx, window), target, MASK).mean()


def _pure_loss(params, xs, target, chars):
    """The pure-function twin of _module_loss (the same params, as plain dicts)."""
    dec, _ = rnn.run(LSTM, params["lstm"], xs, mask=MASK, reverse=True)
    ctx, _ = jax.vmap(lambda q: attention.luong_attend(params["attn"], "concat", q, xs, MASK),
                      1, 1)(dec)
    window, _, _ = attention.graves_window(dense(params["win"], dec[:, 0]), jnp.zeros((B, 2)),
                                           chars, jnp.ones(chars.shape[:2]))
    mix = mixtures.split_bivariate(dense(params["head"], _features(dec, ctx, window)), 2)
    return mixtures.stroke_nll(mix, target, MASK).mean()


def test_gradients_equal_pure_gradients():
    m = _Stack()
    xs = normal(18, (B, T, D))
    target = jnp.concatenate([normal(19, (B, T, 2)), (normal(20, (B, T, 1)) > 0)], -1)
    chars = jax.nn.one_hot(jnp.array([[0, 1, 2], [2, 2, 1], [1, 0, 0]]), 3)

    @nnx.jit
    def both(m):  # one compile for the two (this CPU compiles slowly)
        params = {k: getattr(m, k).get_params() for k in ("lstm", "attn", "win", "head")}
        return (nnx.value_and_grad(_module_loss)(m, xs, target, chars),
                jax.value_and_grad(_pure_loss)(params, xs, target, chars))

    (loss, grads), (ref_loss, ref_grads) = both(m)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    got = {k: v["params"] for k, v in nnx.to_pure_dict(grads).items()}
    assert_trees_close(got, ref_grads, tol=1e-6)
    assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree_util.tree_leaves(got))


# ---------------------------------------------------------------------------- params both ways
def test_set_params_checks_structure_and_shapes():
    layer = build(jnnx.LSTM, 0, D, 6)
    p = layer.get_params()
    with pytest.raises(ValueError, match=r"\['wh'\].*\(6, 24\)"):
        layer.set_params({**p, "wh": jnp.zeros((5, 24))})
    with pytest.raises(ValueError, match="does not match"):
        layer.set_params({"wx": p["wx"]})
    other = build(jnnx.LSTM, 1, D, 6)
    assert not jnp.array_equal(other.get_params()["wx"], p["wx"])
    assert_trees_close(other.set_params(p).get_params(), p)


def test_shipped_checkpoints_load_into_modules():
    from jaxseq.training.checkpoint import load_for_sampling
    nmt_dir, hw_dir = ROOT / "ckpt/nmt_luong/eng-fra", ROOT / "ckpt/handwriting_synthesis"
    if not (nmt_dir.is_dir() and hw_dir.is_dir()):
        pytest.skip("shipped checkpoints not present")
    params, meta = load_for_sampling(nmt_dir)
    cfg = meta["config"]
    E, H = cfg["emb"], cfg["hidden"]
    enc = jnnx.Bidirectional.from_params(params["enc"][0], "lstm", E, H // 2)
    attn = jnnx.LuongAttention.from_params(params["attn"], cfg["score"], H, H)
    assert_trees_close(enc.get_params(), params["enc"][0])
    q, keys = normal(20, (B, H)), normal(21, (B, T, H))
    assert_trees_close(attn(q, keys, MASK),
                       attention.luong_attend(params["attn"], cfg["score"], q, keys, MASK))

    params, meta = load_for_sampling(hw_dir)
    cfg = meta["config"]
    win = jnnx.GravesWindow.from_params(params["window"], cfg["hidden"], cfg["n_gauss"],
                                        kappa_scale=cfg["kappa_scale"])
    head = jnnx.MixtureHead.from_params(params["out"], cfg["layers"] * cfg["hidden"], cfg["n_mix"])
    assert_trees_close((win.get_params(), head.get_params()), (params["window"], params["out"]))
    with pytest.raises(ValueError, match="expects"):
        jnnx.MixtureHead.from_params(params["out"], cfg["hidden"], cfg["n_mix"])


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
