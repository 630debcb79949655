"""Sampling from the Graves handwriting networks: one jitted, vmapped call draws N lines on device.

Each line has its own text, bias (eqs 61-62), temperature, PRNG key and optional style prime. A line is a
``lax.scan`` over a fixed ``max_steps`` with a ``done`` flag (static shapes, no host round trip per step).
A synthesis line stops when the window has passed its last character: phi at position U (one past the
text) exceeds phi at every character (Graves §5.2). That rule fires while the last letter is still being
drawn (phi one past the text overtakes the last character's phi halfway through it), so the line goes on
until the pen next lifts, for at most ``stop_tail`` more points; points after the end are zero.

Speed (the sampling loop runs ``max_steps`` times, so per-step work is what counts; see
:func:`fast_step`): each layer does one matmul on weights stacked once per call, the window reads the text
ids (no one-hot [U, V] tensor per step), the component pick needs no normalised log weights, and phi is
stacked only when asked for. :func:`step` is the plain reference it is tested against. On an H100 the
float32 loop is bound by the matmuls (1024 lines: 8,979 lines/s fast step, 9,544 reference step);
bf16 matmuls (``HWConfig(bf16=True)``) reach 14,896 lines/s.

Style priming (§5.3): the network first reads a real line's strokes with its text teacher-forced, the text
being ``prime_text + " " + new_text``; sampling then continues from that state, the window carries on into
the new text, and only the new strokes are returned.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.models.handwriting import model as hw
from jaxseq.nn import mixtures as mdn
from jaxseq.nn.attention import graves_phi, graves_window
from jaxseq.nn.cells import LSTM
from jaxseq.data.charset import Charset, encode_batch


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


def stacked_weights(cp):
    """Per layer ``{"wh": [in + H, 4H]}``: input and recurrent weights stacked (rows in the order
    [x, h_{n-1}, window, h_n] that :func:`fast_step` concatenates), so a layer is one matmul per step.
    Done once per sampling call, outside the loop."""
    return [{"wh": jnp.concatenate([p["wx"], p["wh"]], 0)} for p in cp["layers"]]


def window_vector(phi, ids, vocab):
    """Eq 47 from ids instead of a one-hot [B, U, V] (read every step): w_v = sum_u phi_u [id_u == v],
    one fused compare-and-reduce (padding -1 matches nothing). Returns [B, V]."""
    hit = ids[:, :, None] == jnp.arange(vocab, dtype=ids.dtype)                # [B, U, V], fused
    return jnp.where(hit, phi[:, :, None], 0.0).sum(1)


def fast_step(sw, cp, cfg: hw.HWConfig, state, x, ids=None):
    """Same as :func:`step` (ids [B, U] instead of one-hot chars; ``sw`` from :func:`stacked_weights`)
    with one matmul per layer. Returns ``(state, raw [B, 6M+1], phi [B, U] or None)``."""
    new_layers, hs, phi, w = [], [], None, None
    h = None
    for n, p in enumerate(sw):
        h_self, c = state["layers"][n]
        parts = [x] + ([h] if n > 0 else []) + ([state["w"] if n == 0 else w] if cfg.synthesis else [])
        inp = jnp.concatenate(parts + [h_self], -1)
        # step_projected adds inp @ stacked weights to the bias: the whole eq 47/44 pre-activation
        carry, h = LSTM.step_projected(p, (inp, c), cp["layers"][n]["b"])
        new_layers.append(carry)
        hs.append(h)
        if n == 0 and cfg.synthesis:
            pw = cp["window"]
            raw_w = jnp.dot(h.astype(pw["w"].dtype), pw["w"]) + pw["b"]
            phi, kappa = graves_phi(raw_w, state["kappa"], ids.shape[1], kappa_scale=cfg.kappa_scale)
            w = window_vector(phi, ids, cfg.vocab)
    po = cp["out"]
    raw = jnp.dot(jnp.concatenate(hs, -1).astype(po["w"].dtype), po["w"]) + po["b"]
    new = {"layers": new_layers}
    if cfg.synthesis:
        new["kappa"], new["w"] = kappa, w
    return new, raw.astype(jnp.float32), phi


def fast_draw(raw, n_mix, bias, temperature, gumbel, normal, uniform):
    """:func:`draw_point` straight from raw outputs [B, 6M+1]: the component is the argmax of the
    scaled logits plus Gumbel noise (the log-softmax normaliser is the same for every component, so it
    is skipped) and the picked parameters are read with a one-hot mask (one fused reduction)."""
    m = n_mix
    logit, mu1, mu2, ls1, ls2, rho = (raw[..., i * m:(i + 1) * m] for i in range(6))
    idx = jnp.argmax(logit * (1.0 + bias) / temperature + gumbel, axis=-1)
    hit = jnp.arange(m) == idx[..., None]
    pick = lambda a: jnp.where(hit, a, 0.0).sum(-1)
    log_t = jnp.log(temperature)
    ls1 = jnp.clip(pick(ls1) - bias + 0.5 * log_t, mdn.LOG_SIGMA_MIN, mdn.LOG_SIGMA_MAX)
    ls2 = jnp.clip(pick(ls2) - bias + 0.5 * log_t, mdn.LOG_SIGMA_MIN, mdn.LOG_SIGMA_MAX)
    r = mdn.RHO_MAX * jnp.tanh(pick(rho))
    n1, n2 = normal
    x1 = pick(mu1) + jnp.exp(ls1) * n1
    x2 = pick(mu2) + jnp.exp(ls2) * (r * n1 + jnp.sqrt(1.0 - r * r) * n2)
    eos = (uniform < jax.nn.sigmoid(raw[..., 6 * m] / temperature)).astype(jnp.float32)
    return jnp.stack([x1, x2, eos], -1)


def draw_point(p, gumbel, normal, uniform):
    """One point from biased/tempered mixture params ``p`` (leading shape [B]) given pre-drawn noise:
    gumbel [B, M] (Gumbel-max picks the component), normal [2, B], uniform [B] (end of stroke).
    Same distribution as :func:`jaxseq.nn.mixtures.sample_bivariate`. Returns [B, 3]."""
    idx = jnp.argmax(p["log_pi"] + gumbel, axis=-1)
    pick = lambda a: jnp.take_along_axis(a, idx[..., None], -1)[..., 0]
    rho = pick(p["rho"])
    n1, n2 = normal
    x1 = pick(p["mu1"]) + jnp.exp(pick(p["log_s1"])) * n1
    x2 = pick(p["mu2"]) + jnp.exp(pick(p["log_s2"])) * (rho * n1 + jnp.sqrt(1.0 - rho * rho) * n2)
    eos = (uniform < jax.nn.sigmoid(p["pen_logits"][..., 0])).astype(jnp.float32)
    return jnp.stack([x1, x2, eos], -1)


def _sample_one(params, cfg, max_steps, unroll, stop_tail, return_phi, fast, key, text, bias,
                temperature, prime, prime_len):
    """One line (vmapped over everything but params). text: [U] ids (-1 pad); prime: [P, 3]."""
    cp = hw.compute_params(params, cfg)
    sw = stacked_weights(cp) if fast else None
    ids = text[None]
    chars = hw.one_hot_text(ids, cfg.vocab) if cfg.synthesis and not fast else None
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
    # all noise drawn up front (no RNG inside the loop), in one [S, 1, M + 3] array: one slice per step
    kg, kn, ku = jax.random.split(key, 3)
    noise = jnp.concatenate([jax.random.gumbel(kg, (max_steps, 1, cfg.n_mix)),
                             jnp.swapaxes(jax.random.normal(kn, (max_steps, 2, 1)), 1, 2),
                             jax.random.uniform(ku, (max_steps, 1))[..., None]], -1)

    def body(carry, nz):
        state, x, done, fired, tail, length = carry
        M = cfg.n_mix
        inp = (nz[:, :M], jnp.swapaxes(nz[:, M:M + 2], 0, 1), nz[:, M + 2])   # gumbel, normal, uniform
        if fast:
            state, raw, phi = fast_step(sw, cp, cfg, state, x, ids)
            point = fast_draw(raw, cfg.n_mix, bias, temperature, *inp)                # [1, 3]
        else:
            state, raw, phi = step(cp, cfg, state, x, chars)
            point = draw_point(mdn.split_bivariate(raw, cfg.n_mix, bias=bias, temperature=temperature),
                               *inp)
        if cfg.synthesis:
            # Graves §5.2: phi one past the text beats phi at every character (ties go to the text)
            before = jnp.where(jnp.arange(U) < text_len, phi[0], -jnp.inf).max()
            fired_now = fired | (phi[0, text_len] > before)
        else:
            fired_now = jnp.array(False)
        valid = ~done
        # after the rule fires, finish the stroke in progress: stop at the next pen lift (this point's
        # eos) or after stop_tail further points
        stop = fired_now & ((point[0, 2] > 0) | (tail >= stop_tail))
        new = (state, point, done | stop, fired_now, tail + fired_now.astype(jnp.int32),
               length + valid.astype(jnp.int32))
        out = (point[0] * valid,)
        if return_phi:
            out += (phi[0] * valid if cfg.synthesis else jnp.zeros((0,), jnp.float32),)
        return new, out

    zero = jnp.array(0, jnp.int32)
    carry0 = (state, x0, jnp.array(False), jnp.array(False), zero, zero)
    final, outs = jax.lax.scan(body, carry0, noise, unroll=unroll)
    return outs[0], final[-1], (outs[1] if return_phi else None)


@functools.partial(jax.jit, static_argnames=("cfg", "max_steps", "unroll", "return_phi", "fast"))
def _sample_batch(params, cfg, keys, texts, biases, temperatures, primes, prime_lens, stop_tail, *,
                  max_steps, unroll, return_phi, fast):
    fn = functools.partial(_sample_one, params, cfg, max_steps, unroll, stop_tail, return_phi, fast)
    return jax.vmap(fn)(keys, texts, biases, temperatures, primes, prime_lens)


def sample_batch(params, cfg: hw.HWConfig, keys, texts, biases, temperatures, primes, prime_lens,
                 max_steps=700, unroll=None, stop_tail=0, return_phi=True, fast=True):
    """N lines in one jitted call. keys: [N, 2]; texts: [N, U] (-1 pad; U >= len + 1); biases,
    temperatures: [N]; primes: [N, P, 3] (P may be 0); prime_lens: [N]; ``unroll``: scan unroll
    (default ``cfg.unroll``); ``stop_tail`` (traced: no recompile per value): at most this many points
    after the stopping rule fires, to finish the last stroke (0: stop at once, as in the paper);
    ``return_phi``: also stack the window weights; ``fast=False``: the plain reference step.
    Returns (strokes [N, S, 3], lengths [N], phi [N, S, U] or None); strokes past a line's length
    are zero."""
    unroll = cfg.unroll if unroll is None else unroll  # fewer loop iterations: less per-step overhead
    return _sample_batch(params, cfg, keys, texts, biases, temperatures, primes, prime_lens,
                         jnp.asarray(stop_tail, jnp.int32), max_steps=int(max_steps), unroll=unroll,
                         return_phi=return_phi, fast=fast)


def default_stop_tail(cfg: hw.HWConfig) -> int:
    """Points allowed after the stopping rule: about one and a half characters' worth (kappa_scale is
    characters per point), enough to finish the last letter's stroke."""
    return int(round(1.5 / cfg.kappa_scale)) if cfg.synthesis else 0


def generate(params, cfg: hw.HWConfig, charset: Charset | None, texts, *, seed=0, bias=0.0,
             temperature=1.0, max_steps=None, primes=None, text_bucket=16, stop_tail=None):
    """Host-side convenience: encode texts (with optional ``primes``: list of (stroke3 [P,3], text) or
    None per line), call :func:`sample_batch`, and cut each line to its length. ``stop_tail``: see
    :func:`sample_batch` (default :func:`default_stop_tail`).

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
                     max_steps=int(max_steps),
                     stop_tail=default_stop_tail(cfg) if stop_tail is None else int(stop_tail)))
    out, out_phi = [], []
    for i in range(n):
        L = int(lengths[i])
        out.append(np.asarray(strokes[i, :L]))
        u = int((ids[i] >= 0).sum()) + 1
        out_phi.append(np.asarray(phis[i, :L, :u]) if cfg.synthesis else None)
    return out, out_phi
