"""Scanned runner: agreement with a step loop, masks, reverse, stacked and bidirectional layers."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import random_params
from jaxseq.nn import cells
from jaxseq.nn import scan as rnn

B, T, D, H = 3, 7, 4, 5
LENGTHS = np.array([7, 4, 1])


def data(seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(B, T, D)).astype(np.float32)
    mask = (np.arange(T)[None] < LENGTHS[:, None]).astype(np.float32)
    return xs, mask


def params(name, seed=0, d=D):
    return random_params(cells.get_cell(name).init, d, H, seed=seed)


@functools.partial(jax.jit, static_argnames=("name", "reverse", "time_major", "unroll"))
def run(name, p, xs, mask=None, reverse=False, time_major=False, unroll=1):
    return rnn.run(cells.get_cell(name), p, xs, mask=mask, reverse=reverse, time_major=time_major,
                   unroll=unroll)


def loop(cell, p, xs, carry=None):
    """Reference: a Python loop of single steps (outside jit)."""
    step = jax.jit(cell.step)
    carry = cell.zeros(xs.shape[0], H) if carry is None else carry
    ys = []
    for t in range(xs.shape[1]):
        carry, y = step(p, carry, xs[:, t])
        ys.append(y)
    return np.stack(ys, 1), carry


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_scan_matches_step_loop(name):
    p, (xs, _) = params(name), data()
    ys, final = run(name, p, xs)
    ys_ref, final_ref = loop(cells.get_cell(name), p, xs)
    assert ys.shape == (B, T, H)
    np.testing.assert_allclose(ys, ys_ref, rtol=1e-5, atol=1e-6)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                           final, final_ref)


def test_masked_steps_freeze_carry_and_zero_outputs():
    p, (xs, mask) = params("lstm"), data()
    # garbage in the padding must not matter
    xs_noisy = np.where(mask[..., None] > 0, xs, 1e3).astype(np.float32)
    ys, (h, c) = run("lstm", p, xs_noisy, mask)
    for b, L in enumerate(LENGTHS):
        ys_ref, (h_ref, c_ref) = loop(cells.LSTM, p, xs[b:b + 1, :L])
        np.testing.assert_allclose(ys[b, :L], ys_ref[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(ys[b, L:], 0.0)
        np.testing.assert_allclose(h[b], h_ref[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c[b], c_ref[0], rtol=1e-5, atol=1e-6)


def test_all_masked_keeps_initial_carry():
    p, (xs, _) = params("gru"), data()
    h0 = np.random.default_rng(1).normal(size=(B, H)).astype(np.float32)
    _, final = jax.jit(lambda p, xs, m, c: rnn.run(cells.GRU, p, xs, mask=m, carry=c))(
        p, xs, np.zeros((B, T), np.float32), h0)
    np.testing.assert_array_equal(final, h0)


def test_padding_gets_no_gradient():
    p, (xs, mask) = params("lstm"), data()
    g = jax.jit(jax.grad(lambda xs: jnp.sum(rnn.run(cells.LSTM, p, xs, mask=mask)[0] ** 2)))(xs)
    assert np.all(np.asarray(g)[mask == 0] == 0.0)
    assert np.all(np.abs(np.asarray(g)[mask > 0]).sum(-1) > 0)


def test_reverse_padded():
    xs = np.arange(B * T, dtype=np.float32).reshape(B, T, 1)
    out = np.asarray(rnn.reverse_padded(jnp.asarray(xs), jnp.asarray(LENGTHS)))
    for b, L in enumerate(LENGTHS):
        np.testing.assert_array_equal(out[b, :L], xs[b, :L][::-1])
        np.testing.assert_array_equal(out[b, L:], xs[b, L:])   # padding stays in place
    back = rnn.reverse_padded(jnp.asarray(out), jnp.asarray(LENGTHS))
    np.testing.assert_array_equal(back, xs)
    tm = rnn.reverse_padded(jnp.asarray(xs.swapaxes(0, 1)), jnp.asarray(LENGTHS), time_major=True)
    np.testing.assert_array_equal(np.asarray(tm).swapaxes(0, 1), out)


def test_bidirectional_equals_two_reversed_passes():
    cell = cells.LSTM
    p = {"fw": params("lstm", 1), "bw": params("lstm", 2)}
    xs, mask = data(3)
    lengths = jnp.asarray(LENGTHS)
    ys, (ff, fb) = jax.jit(lambda p, xs, m: rnn.run_bidirectional(cell, p, xs, mask=m))(p, xs, mask)
    assert ys.shape == (B, T, 2 * H)
    yf, ff_ref = run("lstm", p["fw"], xs, mask)
    # backward direction = forward pass over each sequence reversed within its length, reversed back
    yb_rev, fb_ref = run("lstm", p["bw"], rnn.reverse_padded(xs, lengths), mask)
    yb = rnn.reverse_padded(yb_rev, lengths)
    np.testing.assert_allclose(ys[..., :H], yf, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ys[..., H:], yb, rtol=1e-5, atol=1e-6)
    for a, b in zip(ff + fb, ff_ref + fb_ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_time_major_and_unroll_agree():
    p, (xs, mask) = params("gru"), data()
    ys, f = run("gru", p, xs, mask)
    ys_tm, f_tm = run("gru", p, xs.swapaxes(0, 1), mask.T, time_major=True, unroll=3)
    np.testing.assert_allclose(np.asarray(ys_tm).swapaxes(0, 1), ys, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(f_tm, f, rtol=1e-6, atol=1e-6)


def test_stacked_equals_layer_by_layer_and_dropout():
    cell = cells.GRU
    layers = [params("gru", 4), params("gru", 5, d=H)]
    xs, mask = data()
    f = jax.jit(lambda ls, xs, m, k, r: rnn.run_stacked(cell, ls, xs, mask=m, dropout_key=k,
                                                        dropout_rate=r), static_argnums=4)
    key = jax.random.PRNGKey(0)
    ys, finals = f(layers, xs, mask, key, 0.0)
    h1, f1 = run("gru", layers[0], xs, mask)
    h2, f2 = run("gru", layers[1], h1, mask)
    np.testing.assert_allclose(ys, h2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(finals[0], f1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(finals[1], f2, rtol=1e-5, atol=1e-6)
    # dropout between layers: deterministic given the key, different from no dropout
    d1, _ = f(layers, xs, mask, key, 0.5)
    d2, _ = f(layers, xs, mask, key, 0.5)
    np.testing.assert_array_equal(d1, d2)
    assert not np.allclose(d1, ys)
    # stacked_init gives the right input sizes
    init = jax.eval_shape(lambda k: rnn.stacked_init(cell, k, D, H, 3), key)
    assert [l["wx"].shape for l in init] == [(D, 3 * H), (H, 3 * H), (H, 3 * H)]
