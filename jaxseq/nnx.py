"""Flax NNX modules over the pure functions of :mod:`jaxseq.nn`.

Each module is a thin shell: it holds the pure init function's params pytree as ``self.params``, the same
dicts (and keys) with every array wrapped in an ``nnx.Param``, and its ``__call__`` calls the pure
function. The pure functions stay the source of truth; a module adds no math of its own, so

    module(xs, ...) == pure_fn(module.get_params(), xs, ...)

exactly. ``get_params()`` returns the plain pytree, ``set_params(tree)`` loads one in place and
``Cls.from_params(tree, *args)`` builds a module around one without a random init; so a checkpoint of the
pure API (e.g. ``params["attn"]`` of an NMT checkpoint, ``params["out"]`` of a handwriting one) drops
into a module, and trained module weights go back to the pure functions. Modules compose with Flax's own
(``nnx.Embed``, ``nnx.Linear``) and train with ``nnx.Optimizer``; see ``docs/flax_nnx.md``.

This module imports Flax; nothing else in jaxseq does, so ``import jaxseq`` stays light.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jaxseq.nn import attention, mixtures
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import Cell, get_cell
from jaxseq.nn.layers import dense, dense_init

__all__ = ["PureModule", "Recurrent", "LSTM", "GRU", "RNN", "Bidirectional", "MixtureHead",
           "GravesWindow", "LuongAttention"]


def _is_var(x):
    return isinstance(x, nnx.Variable)


def _cell(cell) -> Cell:
    return get_cell(cell) if isinstance(cell, str) else cell


class PureModule(nnx.Module):
    """Base: ``self.params`` is a pure params pytree whose arrays are ``nnx.Param`` variables."""

    def __init__(self, params):
        self.params = nnx.data(jax.tree_util.tree_map(nnx.Param, params))

    @classmethod
    def from_params(cls, params, *args, **kw):
        """The module holding ``params`` (e.g. from a checkpoint), built without drawing a random init
        (``nnx.eval_shape``). ``args``/``kw``: the constructor's arguments, ``rngs`` left out."""
        return nnx.eval_shape(lambda: cls(*args, rngs=nnx.Rngs(0), **kw)).set_params(params)

    def get_params(self):
        """The plain params pytree (arrays), as the pure functions take it."""
        return jax.tree_util.tree_map(lambda v: v.get_value(), self.params, is_leaf=_is_var)

    def set_params(self, params):
        """Load a plain params pytree in place (optimizer states keep pointing at the same variables).

        The tree structure and every array shape must match the module's; dtypes are kept as given.
        Returns the module.
        """
        mine = self.get_params()
        if jax.tree_util.tree_structure(mine) != jax.tree_util.tree_structure(params):
            raise ValueError(f"{type(self).__name__}: params tree {jax.tree_util.tree_structure(params)} "
                             f"does not match the module's {jax.tree_util.tree_structure(mine)}")
        for (path, old), new in zip(jax.tree_util.tree_leaves_with_path(mine),
                                    jax.tree_util.tree_leaves(params)):
            if tuple(old.shape) != tuple(jnp.shape(new)):
                raise ValueError(f"{type(self).__name__}: param {jax.tree_util.keystr(path)} has shape "
                                 f"{tuple(jnp.shape(new))}, the module expects {tuple(old.shape)}")
        jax.tree_util.tree_map(lambda v, a: v.set_value(jnp.asarray(a)), self.params, params,
                               is_leaf=_is_var)
        return self


# ------------------------------------------------------------------------------------- recurrent
class Recurrent(PureModule):
    """One recurrent layer run over a whole sequence (:func:`jaxseq.nn.scan.run`, input projection
    hoisted out of the time loop). ``cell`` is a :class:`~jaxseq.nn.cells.Cell` or its name."""

    def __init__(self, cell, in_dim, hidden, *, rngs: nnx.Rngs, reverse=False, unroll=1, **init_kw):
        self.cell = _cell(cell)
        self.hidden, self.reverse, self.unroll = hidden, reverse, unroll
        super().__init__(self.cell.init(rngs.params(), in_dim, hidden, **init_kw))

    def __call__(self, xs, mask=None, carry=None, *, dropout_mask=None):
        """xs: [B, T, D]; mask: [B, T] (1 real, 0 pad). Returns ``(ys [B, T, H], final_carry)``; past a
        sequence's end the carry is frozen and ``ys`` is 0. ``reverse=True`` starts at each sequence's
        own last real step."""
        return rnn.run(self.cell, self.get_params(), xs, mask=mask, carry=carry, reverse=self.reverse,
                       unroll=self.unroll, dropout_mask=dropout_mask)

    def step(self, carry, x, **kw):
        """One step for decoding loops: x: [B, D] -> ``(carry, y [B, H])``."""
        return self.cell.step(self.get_params(), carry, x, **kw)

    def zeros(self, batch):
        """The initial carry for ``batch`` sequences."""
        return self.cell.zeros(batch, self.hidden)


class LSTM(Recurrent):
    """LSTM layer; carry ``(h, c)``. Params: ``{"wx", "wh", "b"}`` (+ layer-norm scales/biases)."""

    def __init__(self, in_dim, hidden, *, rngs: nnx.Rngs, forget_bias=1.0, layer_norm=False,
                 reverse=False, unroll=1):
        super().__init__("lstm", in_dim, hidden, rngs=rngs, reverse=reverse, unroll=unroll,
                         forget_bias=forget_bias, layer_norm=layer_norm)


class GRU(Recurrent):
    """GRU layer (cuDNN gate convention); carry ``h``. Params: ``{"wx", "wh", "b", "bh"}``."""

    def __init__(self, in_dim, hidden, *, rngs: nnx.Rngs, reverse=False, unroll=1):
        super().__init__("gru", in_dim, hidden, rngs=rngs, reverse=reverse, unroll=unroll)


class RNN(Recurrent):
    """Elman RNN layer (tanh); carry ``h``. Params: ``{"wx", "wh", "b"}``."""

    def __init__(self, in_dim, hidden, *, rngs: nnx.Rngs, reverse=False, unroll=1):
        super().__init__("rnn", in_dim, hidden, rngs=rngs, reverse=reverse, unroll=unroll)


class Bidirectional(PureModule):
    """Forward and backward layers, outputs concatenated (:func:`jaxseq.nn.scan.run_bidirectional`).

    Params ``{"fw": cell params, "bw": cell params}``, as ``bidirectional_init`` and the NMT encoder.
    """

    def __init__(self, cell, in_dim, hidden, *, rngs: nnx.Rngs, unroll=1, **init_kw):
        self.cell = _cell(cell)
        self.hidden, self.unroll = hidden, unroll
        super().__init__(rnn.bidirectional_init(self.cell, rngs.params(), in_dim, hidden, **init_kw))

    def __call__(self, xs, mask=None):
        """xs: [B, T, D] -> ``(ys [B, T, 2H], (final_fw, final_bw))``; ``final_bw`` is the backward
        state after reading each sequence's first step."""
        return rnn.run_bidirectional(self.cell, self.get_params(), xs, mask=mask, unroll=self.unroll)


# ----------------------------------------------------------------------------------------- heads
class MixtureHead(PureModule):
    """Dense layer -> bivariate Gaussian mixture + pen state (Graves 2013 eqs 17-26; Ha & Eck 2017).

    Params ``{"w": [D, 6M + n_pen], "b"}``, the layout of the handwriting model's ``params["out"]``.
    """

    def __init__(self, in_dim, n_mix, n_pen=1, *, rngs: nnx.Rngs, init="uniform"):
        self.n_mix, self.n_pen = n_mix, n_pen
        super().__init__(dense_init(rngs.params(), in_dim, mixtures.bivariate_size(n_mix, n_pen), init))

    def raw(self, h):
        """h: [..., D] -> the unconstrained outputs [..., 6M + n_pen]."""
        return dense(self.get_params(), h)

    def __call__(self, h, *, bias=0.0, temperature=1.0):
        """h: [..., D] -> the mixture dict of :func:`jaxseq.nn.mixtures.split_bivariate`."""
        return mixtures.split_bivariate(self.raw(h), self.n_mix, self.n_pen, bias=bias,
                                        temperature=temperature)

    def log_prob(self, h, x1, x2):
        """log density of the offsets (x1, x2) [...] under the mixture at h [..., D]."""
        return mixtures.bivariate_log_prob(self(h), x1, x2)

    def nll(self, h, target, mask=None):
        """Per-sequence NLL in nats (:func:`jaxseq.nn.mixtures.stroke_nll`). h: [..., T, D];
        target: [..., T, 3] (dx, dy, eos); mask: [..., T]. Needs the Bernoulli pen (``n_pen=1``)."""
        if self.n_pen != 1:
            raise ValueError(f"stroke_nll models the pen as one Bernoulli (n_pen=1), this head has "
                             f"n_pen={self.n_pen}")
        return mixtures.stroke_nll(self(h), target, mask)

    def sample(self, key, h, *, bias=0.0, temperature=1.0):
        """One point per leading index: ``(xy [..., 2], pen)`` (:func:`sample_bivariate`)."""
        p = self(h, bias=bias, temperature=temperature)
        return mixtures.sample_bivariate(key, p, n_pen=self.n_pen)


# ------------------------------------------------------------------------------------- attention
class GravesWindow(PureModule):
    """The soft window over a text (Graves 2013 eqs 46-51): a dense layer h -> (alpha, beta, kappa)
    hats, then :func:`jaxseq.nn.attention.graves_window`. Params ``{"w": [D, 3K], "b"}``, the layout of
    the handwriting model's ``params["window"]``."""

    def __init__(self, in_dim, n_gauss, *, rngs: nnx.Rngs, kappa_scale=1.0):
        self.n_gauss, self.kappa_scale = n_gauss, kappa_scale
        super().__init__(dense_init(rngs.params(), in_dim, attention.window_size(n_gauss)))

    def __call__(self, h, kappa_prev, chars, char_mask):
        """h: [B, D]; kappa_prev: [B, K]; chars: [B, U, V] one-hot; char_mask: [B, U].
        Returns ``(window [B, V], kappa [B, K], phi [B, U])``."""
        raw = dense(self.get_params(), h)
        return attention.graves_window(raw, kappa_prev, chars, char_mask, kappa_scale=self.kappa_scale)

    def zeros(self, batch):
        """The initial window position kappa [B, K]."""
        return jnp.zeros((batch, self.n_gauss), jnp.float32)


class LuongAttention(PureModule):
    """Luong global attention (Luong et al. 2015 §3.1), score ``dot`` | ``general`` | ``concat``.

    Params as :func:`jaxseq.nn.attention.luong_init` (``{}`` for dot), the NMT model's ``params["attn"]``.
    """

    def __init__(self, score, dec_dim, enc_dim, attn_dim=None, *, rngs: nnx.Rngs):
        self.score = score
        super().__init__(attention.luong_init(rngs.params(), score, dec_dim, enc_dim, attn_dim))

    def precompute(self, enc):
        """The per-source part of the score (``enc_keys``), hoisted out of a decoder loop."""
        return attention.precompute_keys(self.get_params(), self.score, enc)

    def __call__(self, h, enc, mask, enc_keys=None):
        """h: [B, Hd] (one decoder step) or [B, T, Hd] (all steps at once); enc: [B, S, He]; mask:
        [B, S]. Returns ``(context [B, (T,) He], weights [B, (T,) S])``."""
        p = self.get_params()
        attend = lambda q: attention.luong_attend(p, self.score, q, enc, mask, enc_keys)
        if h.ndim == 3:
            return jax.vmap(attend, in_axes=1, out_axes=1)(h)
        return attend(h)
