"""Attention: Luong global attention (Luong et al. 2015 §3.1) and the Graves Gaussian window
(Graves 2013 eqs 46-51).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxseq.nn.precision import at_least_f32

SCORES = ("dot", "general", "concat")
NEG_INF = -1e30


# ------------------------------------------------------------------------------------------- Luong
def luong_init(key, score, dec_dim, enc_dim, attn_dim=None):
    """Params of a score function. ``dot`` needs ``dec_dim == enc_dim`` and has none."""
    if score not in SCORES:
        raise ValueError(f"unknown attention score {score!r}; choose one of {SCORES}")
    k1, k2 = jax.random.split(key)
    if score == "dot":
        if dec_dim != enc_dim:
            raise ValueError(f"dot score needs equal sizes, got decoder {dec_dim}, encoder {enc_dim}")
        return {}
    if score == "general":
        return {"w": jax.random.normal(k1, (dec_dim, enc_dim)) / jnp.sqrt(dec_dim)}
    attn_dim = attn_dim or dec_dim
    return {"w": jax.random.normal(k1, (dec_dim + enc_dim, attn_dim)) / jnp.sqrt(dec_dim + enc_dim),
            "v": jax.random.normal(k2, (attn_dim,)) / jnp.sqrt(attn_dim)}


def luong_scores(params, score, h, enc, enc_keys=None):
    """h: [B, Hd]; enc: [B, S, He] -> scores [B, S].

    ``enc_keys`` (optional) is ``enc @ w`` precomputed once per sequence for ``general``, so the decoder
    loop does one batched matvec per step instead of a projection of the whole source.
    """
    if score == "dot":
        return jnp.einsum("bh,bsh->bs", h, enc)
    if score == "general":
        if enc_keys is None:
            enc_keys = jnp.einsum("bsh,dh->bsd", enc, params["w"])
        return jnp.einsum("bd,bsd->bs", h, enc_keys)
    hd = h.shape[-1]
    wh, we = params["w"][:hd], params["w"][hd:]
    if enc_keys is None:
        enc_keys = jnp.einsum("bsh,ha->bsa", enc, we)
    return jnp.tanh(enc_keys + (h @ wh)[:, None, :]) @ params["v"]


def precompute_keys(params, score, enc):
    """The per-source part of a score, hoisted out of the decoder loop (None for ``dot``)."""
    if score == "general":
        return jnp.einsum("bsh,dh->bsd", enc, params["w"])
    if score == "concat":
        hd = params["w"].shape[0] - enc.shape[-1]
        return jnp.einsum("bsh,ha->bsa", enc, params["w"][hd:])
    return None


def luong_attend(params, score, h, enc, mask, enc_keys=None):
    """Masked softmax over source positions and the context vector.

    mask: [B, S] (1 real, 0 pad). Returns ``(context [B, He], weights [B, S])``; weights sum to 1 over
    real positions and are exactly 0 on padding.
    """
    s = at_least_f32(luong_scores(params, score, h, enc, enc_keys))
    s = jnp.where(mask > 0, s, NEG_INF)
    w = jax.nn.softmax(s, axis=-1) * (mask > 0)
    ctx = jnp.einsum("bs,bsh->bh", w.astype(enc.dtype), enc)
    return ctx, w


# ------------------------------------------------------------------------------------------ Graves
def window_size(n_gauss: int) -> int:
    return 3 * n_gauss


def graves_phi(raw, kappa_prev, n_chars, *, kappa_scale=1.0):
    """Window weights (eqs 48-51) at every character position ``0..n_chars-1``, padding included.

    raw: [B, 3K] (alpha_hat, beta_hat, kappa_hat); kappa_prev: [B, K]. Returns ``(phi [B, U], kappa
    [B, K])``. ``kappa`` accumulates (eq 51) so the window only moves forward; ``kappa_scale`` multiplies
    the increment. Exponents are clipped to keep exp() finite.
    """
    a_hat, b_hat, k_hat = jnp.split(at_least_f32(raw), 3, axis=-1)
    alpha = jnp.exp(jnp.clip(a_hat, -10.0, 10.0))
    beta = jnp.exp(jnp.clip(b_hat, -10.0, 10.0))
    kappa = kappa_prev + jnp.exp(jnp.clip(k_hat, -10.0, 5.0)) * kappa_scale
    u = jnp.arange(n_chars, dtype=kappa.dtype)                              # [U]
    phi = (alpha[:, :, None] * jnp.exp(-beta[:, :, None] * (kappa[:, :, None] - u) ** 2)).sum(1)
    return phi, kappa


def graves_window(raw, kappa_prev, chars, char_mask, *, kappa_scale=1.0):
    """One step of the soft window (eqs 46-51).

    raw: [B, 3K] (alpha_hat, beta_hat, kappa_hat) from the first layer's output projection;
    kappa_prev: [B, K]; chars: [B, U, V] one-hot text; char_mask: [B, U].
    Returns ``(window [B, V], kappa [B, K], phi [B, U])``; see :func:`graves_phi` (a common
    ``kappa_scale`` is the characters-per-point ratio of the data; 1 is the paper's).
    """
    phi, kappa = graves_phi(raw, kappa_prev, chars.shape[1], kappa_scale=kappa_scale)
    phi = phi * char_mask
    window = jnp.einsum("bu,buv->bv", phi, chars.astype(phi.dtype))
    return window, kappa, phi
