"""Pure-function recurrent cells: LSTM, GRU and a vanilla (Elman) RNN.

Every cell is a :class:`Cell` of pure functions over a params pytree (a dict of arrays):

- ``init(key, in_dim, hidden) -> params``
- ``project(params, xs) -> xp``: the input projection ``x @ W_x + b`` for any leading shape. It has no
  time dependence, so callers hoist it out of the time loop (one matmul over all steps).
- ``step_projected(params, carry, xp) -> (carry, y)``: one step given a projected input ``[B, G]``.
- ``step(params, carry, x) -> (carry, y)``: ``project`` then ``step_projected``.
- ``zeros(batch, hidden) -> carry``

The LSTM carry is ``(h, c)``; GRU and RNN carries are ``h``. ``y`` is always ``h``.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxseq.nn.layers import dense_weight, layer_norm
from jaxseq.nn.precision import at_least_f32


class Cell(NamedTuple):
    init: Callable[..., Any]
    project: Callable[..., Any]
    step_projected: Callable[..., Any]
    zeros: Callable[..., Any]

    def step(self, params, carry, x, **kw):
        return self.step_projected(params, carry, self.project(params, x), **kw)


def _project(params, xs):
    w = params["wx"]
    return jnp.dot(xs.astype(w.dtype), w) + params["b"]


# --------------------------------------------------------------------------------------------- LSTM
def lstm_init(key, in_dim, hidden, *, forget_bias=1.0, layer_norm=False):
    """Gate order i, f, g, o. ``forget_bias`` is added to the forget-gate bias (Gers et al. 2000)."""
    kx, kh = jax.random.split(key)
    b = jnp.zeros((4 * hidden,), jnp.float32).at[hidden:2 * hidden].set(forget_bias)
    p = {"wx": dense_weight(kx, in_dim, 4 * hidden),
         "wh": dense_weight(kh, hidden, 4 * hidden),
         "b": b}
    if layer_norm:  # Ba et al. 2016: normalise the summed gates and the cell before the output tanh
        p["ln_g_scale"] = jnp.ones((4 * hidden,), jnp.float32)
        p["ln_g_bias"] = jnp.zeros((4 * hidden,), jnp.float32)
        p["ln_c_scale"] = jnp.ones((hidden,), jnp.float32)
        p["ln_c_bias"] = jnp.zeros((hidden,), jnp.float32)
    return p


def lstm_step_projected(params, carry, xp, *, dropout_mask=None):
    """carry: (h [B,H], c [B,H]); xp: [B,4H]. ``dropout_mask`` [B,H] (already scaled by 1/keep) is
    applied to the candidate g: recurrent dropout without memory loss (Semeniuta et al. 2016)."""
    h, c = carry
    wh = params["wh"]
    return lstm_gates_step(params, c, xp + jnp.dot(h.astype(wh.dtype), wh), dropout_mask=dropout_mask)


def lstm_gates_step(params, c, gates, *, dropout_mask=None):
    """The LSTM update from its summed pre-activations ``gates`` [B,4H] (``x W_x + h W_h + b``, however
    the caller grouped the matmuls) and the previous cell ``c`` [B,H]. ``params`` is read only for the
    layer-norm terms. Returns ``((h, c), h)`` like :func:`lstm_step_projected`."""
    gates = at_least_f32(gates)  # gate math in f32 under bf16
    if "ln_g_scale" in params:
        gates = layer_norm(gates, params["ln_g_scale"], params["ln_g_bias"]) + params["b"]
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    g = jnp.tanh(g)
    if dropout_mask is not None:
        g = g * dropout_mask
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * g
    c_out = layer_norm(c, params["ln_c_scale"], params["ln_c_bias"]) if "ln_c_scale" in params else c
    h = jax.nn.sigmoid(o) * jnp.tanh(c_out)
    return (h, c), h


def _lstm_project(params, xs):
    if "ln_g_scale" in params:  # with layer norm the bias is added after normalisation
        w = params["wx"]
        return jnp.dot(xs.astype(w.dtype), w)
    return _project(params, xs)


def lstm_zeros(batch, hidden):
    z = jnp.zeros((batch, hidden), jnp.float32)
    return (z, z)


LSTM = Cell(lstm_init, _lstm_project, lstm_step_projected, lstm_zeros)


# ---------------------------------------------------------------------------------------------- GRU
def gru_init(key, in_dim, hidden):
    """Gate order r, z, n (as in cuDNN/PyTorch: the reset gate multiplies ``W_hn h + b_hn``)."""
    kx, kh = jax.random.split(key)
    return {"wx": dense_weight(kx, in_dim, 3 * hidden),
            "wh": dense_weight(kh, hidden, 3 * hidden),
            "b": jnp.zeros((3 * hidden,), jnp.float32),
            "bh": jnp.zeros((3 * hidden,), jnp.float32)}


def gru_step_projected(params, h, xp, *, dropout_mask=None):
    wh = params["wh"]
    hp = at_least_f32(jnp.dot(h.astype(wh.dtype), wh) + params["bh"])
    xp = at_least_f32(xp)
    xr, xz, xn = jnp.split(xp, 3, axis=-1)
    hr, hz, hn = jnp.split(hp, 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    n = jnp.tanh(xn + r * hn)
    if dropout_mask is not None:
        n = n * dropout_mask
    h = (1.0 - z) * n + z * h
    return h, h


def gru_zeros(batch, hidden):
    return jnp.zeros((batch, hidden), jnp.float32)


GRU = Cell(gru_init, _project, gru_step_projected, gru_zeros)


# ---------------------------------------------------------------------------------------------- RNN
def rnn_init(key, in_dim, hidden):
    kx, kh = jax.random.split(key)
    return {"wx": dense_weight(kx, in_dim, hidden),
            "wh": dense_weight(kh, hidden, hidden),
            "b": jnp.zeros((hidden,), jnp.float32)}


def rnn_step_projected(params, h, xp, *, dropout_mask=None):
    wh = params["wh"]
    h = jnp.tanh(at_least_f32(xp + jnp.dot(h.astype(wh.dtype), wh)))
    if dropout_mask is not None:
        h = h * dropout_mask
    return h, h


RNN = Cell(rnn_init, _project, rnn_step_projected, gru_zeros)

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def get_cell(name: str) -> Cell:
    try:
        return CELLS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown cell {name!r}; choose one of {sorted(CELLS)}") from None


def hidden_of(carry):
    """The output state h of any cell's carry."""
    return carry[0] if isinstance(carry, tuple) else carry
