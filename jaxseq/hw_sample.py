"""Sampling from the Graves handwriting networks: one jitted, vmapped call draws N lines on device.

Each line has its own text, bias (eqs 61-62), temperature, PRNG key and optional style prime. A line is a
``lax.scan`` over a fixed ``max_steps`` with a ``done`` flag (static shapes, no host round trip per step).
A synthesis line stops when the window has passed its last character: phi at position U (one past the
text) exceeds phi at every character (Graves §5.2); points after that are zero and masked out.

Style priming (§5.3): the network first reads a real line's strokes with its text teacher-forced, the text
being ``prime_text + " " + new_text``; sampling then continues from that state, the window carries on into
the new text, and only the new strokes are returned.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq import handwriting as hw
from jaxseq import mdn
from jaxseq.attention import graves_window
from jaxseq.cells import LSTM
from jaxseq.charset import Charset, encode_batch


def step(cp, cfg: hw.HWConfig, state, x, chars=None):
    """One step of the full network on compute params ``cp``. x: [B, 3]; chars: [B, U, V].

    Returns ``(state, raw [B, 6M+1], phi [B, U] or None)``. The window here sees every text position
    (padding one-hot is zero), so phi one past the text is available to the stopping rule.
    """
    new_layers, hs, phi, w = [], [], None, None
    h = None
    for n, p in enumerate(cp["layers"]):
        parts = [x] + ([h] if n > 0 else []) + ([state["w"] if n == 0 else w] if cfg.synthesis else [])
        carry, h = LSTM.step(p, state["layers"][n], jnp.concatenate(parts, -1))
        new_layers.append(carry)
        hs.append(h)
        if n == 0 and cfg.synthesis:
            pw = cp["window"]
            raw_w = jnp.dot(h.astype(pw["w"].dtype), pw["w"]) + pw["b"]
            ones = jnp.ones(chars.shape[:2], jnp.float32)
            w, kappa, phi = graves_window(raw_w, state["kappa"], chars, ones,
                                          kappa_scale=cfg.kappa_scale)
    po = cp["out"]
    raw = jnp.dot(jnp.concatenate(hs, -1).astype(po["w"].dtype), po["w"]) + po["b"]
    new = {"layers": new_layers}
    if cfg.synthesis:
        new["kappa"], new["w"] = kappa, w
    return new, raw.astype(jnp.float32), phi


def draw_point(p, gumbel, normal, uniform):
    """One point from biased/tempered mixture params ``p`` (leading shape [B]) given pre-drawn noise:
    gumbel [B, M] (Gumbel-max picks the component), normal [2, B], uniform [B] (end of stroke).
    Same distribution as :func:`jaxseq.mdn.sample_bivariate`. Returns [B, 3]."""
    idx = jnp.argmax(p["log_pi"] + gumbel, axis=-1)
    pick = lambda a: jnp.take_along_axis(a, idx[..., None], -1)[..., 0]
    rho = pick(p["rho"])
    n1, n2 = normal
    x1 = pick(p["mu1"]) + jnp.exp(pick(p["log_s1"])) * n1
    x2 = pick(p["mu2"]) + jnp.exp(pick(p["log_s2"])) * (rho * n1 + jnp.sqrt(1.0 - rho * rho) * n2)
    eos = (uniform < jax.nn.sigmoid(p["pen_logits"][..., 0])).astype(jnp.float32)
    return jnp.stack([x1, x2, eos], -1)


def _sample_one(params, cfg, max_steps, unroll, key, text, bias, temperature, prime, prime_len):
    """One line (vmapped over everything but params). text: [U] ids (-1 pad); prime: [P, 3]."""
    cp = hw.compute_params(params, cfg)
    chars = hw.one_hot_text(text[None], cfg.vocab) if cfg.synthesis else None
    text_len = (text >= 0).sum()
    state = hw.zero_state(cfg, 1)
    if prime.shape[0] > 0:
        pmask = (jnp.arange(prime.shape[0]) < prime_len).astype(jnp.float32)[None]
        _, _, state = hw.forward(params, cfg, hw.shift_inputs(prime[None]), pmask,
                                 text[None] if cfg.synthesis else None, state=state)
        last = prime[jnp.maximum(prime_len - 1, 0)]
        x0 = jnp.where(prime_len > 0, last, jnp.zeros(3))[None]
    else:
        x0 = jnp.zeros((1, 3), jnp.float32)
    U = text.shape[0]
    # all noise drawn up front (one RNG kernel per line, none inside the loop)
    kg, kn, ku = jax.random.split(key, 3)
    noise = (jax.random.gumbel(kg, (max_steps, 1, cfg.n_mix)),
             jax.random.normal(kn, (max_steps, 2, 1)), jax.random.uniform(ku, (max_steps, 1)))

    def body(carry, inp):
        state, x, done = carry
        state, raw, phi = step(cp, cfg, state, x, chars)
        p = mdn.split_bivariate(raw, cfg.n_mix, bias=bias, temperature=temperature)
        point = draw_point(p, *inp)                                               # [1, 3]
        if cfg.synthesis:
            # stop once phi one past the text beats phi at every character (Graves §5.2)
            upto = jnp.where(jnp.arange(U) <= text_len, phi[0], -1.0)
            finished = jnp.argmax(upto) >= text_len
            phi_out = phi[0]
        else:
            finished = jnp.array(False)
            phi_out = jnp.zeros((0,), jnp.float32)
        valid = ~done
        return (state, point, done | finished), (point[0] * valid, valid, phi_out * valid)

    _, (points, valid, phis) = jax.lax.scan(body, (state, x0, jnp.array(False)), noise,
                                            unroll=unroll)
    return points, valid.sum(), phis


@functools.partial(jax.jit, static_argnames=("cfg", "max_steps", "unroll"))
def sample_batch(params, cfg: hw.HWConfig, keys, texts, biases, temperatures, primes, prime_lens,
                 max_steps=700, unroll=None):
    """N lines in one call. keys: [N, 2]; texts: [N, U] (-1 pad; U >= len + 1); biases, temperatures:
    [N]; primes: [N, P, 3] (P may be 0); prime_lens: [N]; ``unroll``: scan unroll (default
    ``cfg.unroll``). Returns (strokes [N, S, 3], lengths [N],
    phi [N, S, U]); strokes past a line's length are zero."""
    unroll = cfg.unroll if unroll is None else unroll  # fewer loop iterations: less per-step overhead
    fn = functools.partial(_sample_one, params, cfg, max_steps, unroll)
    return jax.vmap(fn)(keys, texts, biases, temperatures, primes, prime_lens)


def generate(params, cfg: hw.HWConfig, charset: Charset | None, texts, *, seed=0, bias=0.0,
             temperature=1.0, max_steps=None, primes=None, text_bucket=16):
    """Host-side convenience: encode texts (with optional ``primes``: list of (stroke3 [P,3], text) or
    None per line), call :func:`sample_batch`, and cut each line to its length.

    Returns ``(list of stroke3 [L_i, 3] numpy arrays, list of phi [L_i, U_i+1])``.
    """
    n = len(texts)
    primes = primes or [None] * n
    full = [(p[1] + " " + t) if p is not None else t for p, t in zip(primes, texts)]
    if cfg.synthesis:
        longest = max(len(t) for t in full) + 1
        U = int(np.ceil(longest / text_bucket) * text_bucket)
        ids, _ = encode_batch(charset, full, U)
    else:
        ids = np.full((n, 1), -1, np.int32)
    if max_steps is None:
        max_steps = int(max(len(t) for t in texts) * 2.0 / cfg.kappa_scale) if cfg.synthesis else 700
        max_steps = max(50, min(max_steps, 2000))
    P = max([len(p[0]) for p in primes if p is not None] or [0])
    prime_arr = np.zeros((n, P, 3), np.float32)
    prime_lens = np.zeros((n,), np.int32)
    for i, p in enumerate(primes):
        if p is not None:
            prime_arr[i, :len(p[0])] = p[0]
            prime_lens[i] = len(p[0])
    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    b = np.broadcast_to(np.asarray(bias, np.float32), (n,)).copy()
    tau = np.broadcast_to(np.asarray(temperature, np.float32), (n,)).copy()
    strokes, lengths, phis = jax.device_get(
        sample_batch(params, cfg, keys, jnp.asarray(ids), b, tau, prime_arr, prime_lens,
                     max_steps=int(max_steps)))
    out, out_phi = [], []
    for i in range(n):
        L = int(lengths[i])
        out.append(np.asarray(strokes[i, :L]))
        u = int((ids[i] >= 0).sum()) + 1
        out_phi.append(np.asarray(phis[i, :L, :u]) if cfg.synthesis else None)
    return out, out_phi
