"""Cells against float64 numpy references, finite-difference gradients, and the bf16 policy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_grad_close, random_params
from jaxseq.nn import cells
from jaxseq.nn import scan as rnn
from jaxseq.nn.precision import cast_params, get_policy

B, D, H = 3, 4, 5


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_layer_norm(x, s, b, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * s + b


def np_lstm(p, h, c, x):
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    if "ln_g_scale" in p:
        gates = np_layer_norm(x @ p["wx"] + h @ p["wh"], p["ln_g_scale"], p["ln_g_bias"]) + p["b"]
    else:
        gates = x @ p["wx"] + h @ p["wh"] + p["b"]
    i, f, g, o = np.split(gates, 4, -1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    c_out = np_layer_norm(c, p["ln_c_scale"], p["ln_c_bias"]) if "ln_c_scale" in p else c
    return sig(o) * np.tanh(c_out), c


def np_gru(p, h, x):
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    xr, xz, xn = np.split(x @ p["wx"] + p["b"], 3, -1)
    hr, hz, hn = np.split(h @ p["wh"] + p["bh"], 3, -1)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def np_rnn(p, h, x):
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    return np.tanh(x @ p["wx"] + h @ p["wh"] + p["b"])


def make(name, seed, **kw):
    """A cell, random params, an input [B, D] and a state [B, H], all from numpy."""
    cell = cells.get_cell(name)
    p = random_params(lambda k, d, h: cell.init(k, d, h, **kw), D, H, seed=seed)
    if "ln_g_scale" in p:  # gains near 1, as after init
        p = {k: v + 1.0 if "scale" in k else v for k, v in p.items()}
    rng = np.random.default_rng(seed + 100)
    x = rng.normal(size=(B, D)).astype(np.float32)
    h = (0.5 * rng.normal(size=(B, H))).astype(np.float32)
    return cell, p, x, h


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn"])
def test_shapes(name):
    cell, p, _, _ = make(name, 0)
    carry, y = jax.jit(cell.step)(p, cell.zeros(B, H), jnp.ones((B, D)))
    assert y.shape == (B, H) and y.dtype == jnp.float32
    assert cells.hidden_of(carry).shape == (B, H)
    assert jax.tree_util.tree_structure(carry) == jax.tree_util.tree_structure(cell.zeros(B, H))
    # the hoisted projection works for any leading shape
    assert cell.project(p, jnp.ones((7, B, D))).shape[:2] == (7, B)


@pytest.mark.parametrize("layer_norm", [False, True])
def test_lstm_matches_numpy(layer_norm):
    cell, p, x, h = make("lstm", 1, layer_norm=layer_norm)
    c = np.tanh(h * 3.0)
    (h1, c1), y = jax.jit(cell.step)(p, (h, c), x)
    h_ref, c_ref = np_lstm(p, np.float64(h), np.float64(c), np.float64(x))
    np.testing.assert_allclose(c1, c_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h1, h_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y, h1)


def test_lstm_forget_bias_init():
    p = jax.jit(cells.LSTM.init, static_argnums=(1, 2), static_argnames="forget_bias")(
        jax.random.PRNGKey(0), D, H, forget_bias=2.5)
    np.testing.assert_array_equal(p["b"][H:2 * H], 2.5)
    np.testing.assert_array_equal(p["b"][:H], 0.0)
    np.testing.assert_array_equal(p["b"][2 * H:], 0.0)


def test_gru_matches_numpy():
    cell, p, x, h = make("gru", 2)
    h1, y = jax.jit(cell.step)(p, h, x)
    np.testing.assert_allclose(h1, np_gru(p, np.float64(h), np.float64(x)), rtol=1e-5, atol=1e-5)


def test_rnn_matches_numpy():
    cell, p, x, h = make("rnn", 3)
    h1, y = jax.jit(cell.step)(p, h, x)
    np.testing.assert_allclose(h1, np_rnn(p, np.float64(h), np.float64(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,kw", [("lstm", {}), ("lstm", {"layer_norm": True}), ("gru", {}),
                                     ("rnn", {})])
def test_step_gradients_finite_differences(name, kw, x64):
    cell, p, x, h = make(name, 4, **kw)
    f64 = lambda t: jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), t)
    carry = (h, np.tanh(h)) if name == "lstm" else h
    p, carry, x = f64(p), f64(carry), f64(x)

    def f(p, carry, x):
        new, y = cell.step(p, carry, x)
        assert y.dtype == jnp.float64  # nothing silently drops to float32
        return jnp.sum(jnp.sin(y)) + sum(jnp.sum(c ** 2) for c in jax.tree_util.tree_leaves(new))

    assert_grad_close(f, (p, carry, x))


def test_recurrent_dropout_mask():
    cell, p, x, h = make("lstm", 5)
    c = np.ones((B, H), np.float32)
    ones = np.ones((B, H), np.float32)
    step = jax.jit(cell.step)
    np.testing.assert_array_equal(step(p, (h, c), x, dropout_mask=ones)[0][1], step(p, (h, c), x)[0][1])
    # a zero mask drops the candidate: the cell only decays, it keeps its memory (Semeniuta et al.)
    (_, c0), _ = step(p, (h, c), x, dropout_mask=np.zeros((B, H), np.float32))
    gates = np.float64(x) @ np.float64(p["wx"]) + np.float64(h) @ np.float64(p["wh"]) + p["b"]
    np.testing.assert_allclose(c0, sig(np.split(gates, 4, -1)[1]) * 1.0, rtol=1e-5, atol=1e-6)


def test_unknown_cell():
    with pytest.raises(ValueError, match="unknown cell 'lsmt'"):
        cells.get_cell("lsmt")


# ------------------------------------------------------------------------------------ bf16 policy
def test_policy_casts_floats_only():
    pol = get_policy("bf16")
    assert pol.compute_dtype == jnp.bfloat16 and pol.name == "bfloat16"
    tree = {"w": jnp.ones((2, 2)), "ids": jnp.arange(3), "l": [jnp.zeros(2)]}
    out = cast_params(tree, pol)
    assert out["w"].dtype == jnp.bfloat16 and out["l"][0].dtype == jnp.bfloat16
    assert out["ids"].dtype == jnp.int32
    assert pol.cast_to_output(out)["w"].dtype == jnp.float32
    assert cast_params(tree, get_policy("float32"))["w"].dtype == jnp.float32
    with pytest.raises(ValueError, match="unknown precision"):
        get_policy("fp8")


@pytest.mark.parametrize("name,kw", [("lstm", {"layer_norm": True}), ("gru", {})])
def test_bf16_run_close_to_f32(name, kw):
    cell = cells.get_cell(name)
    p = random_params(lambda k, d, h: cell.init(k, d, h, **kw), D, 32, seed=6, scale=0.3)
    xs = np.random.default_rng(6).normal(size=(B, 20, D)).astype(np.float32)
    run = jax.jit(lambda p, xs: rnn.run(cell, p, xs))
    y32, _ = run(p, xs)
    y16, final = run(cast_params(p, get_policy("bfloat16")), xs)
    assert y16.dtype == jnp.float32  # gate math and outputs stay float32
    assert jax.tree_util.tree_leaves(final)[0].dtype == jnp.float32
    err = float(jnp.max(jnp.abs(y16 - y32)))
    assert err < 2e-2, err


def test_bf16_loss_gradient_reaches_f32_params():
    pol = get_policy("bfloat16")
    p = random_params(cells.LSTM.init, D, H, seed=7)
    xs = np.ones((B, 6, D), np.float32)

    def loss(p):
        ys, _ = rnn.run(cells.LSTM, cast_params(p, pol), xs)
        return jnp.mean(ys ** 2)
    val, g = jax.jit(jax.value_and_grad(loss))(p)
    assert val.dtype == jnp.float32
    assert all(l.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(l)))
               for l in jax.tree_util.tree_leaves(g))
    g32 = jax.jit(jax.grad(lambda p: jnp.mean(rnn.run(cells.LSTM, p, xs)[0] ** 2)))(p)
    np.testing.assert_allclose(g["wx"], g32["wx"], atol=2e-2 * float(jnp.abs(g32["wx"]).max()))
