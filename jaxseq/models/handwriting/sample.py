"""Sampling from the Graves handwriting networks: one jitted, vmapped call draws N lines on device.

Each line has its own text, bias (eqs 61-62), temperature, PRNG key and optional style prime. A line is a
``lax.scan`` over a fixed ``max_steps`` with a ``done`` flag (static shapes, no host round trip per step).
A synthesis line stops when the window has passed its last character: phi at position U (one past the
text) exceeds phi at every character (Graves §5.2). That rule fires while the last letter is still being
drawn (phi one past the text overtakes the last character's phi halfway through it), so the line goes on
until the pen next lifts, for at most ``stop_tail`` more points; points after the end are zero.

Speed (the sampling loop runs ``max_steps`` times, so per-step work is what counts): the step is
:func:`jaxseq.models.handwriting.model.step`, the cell training uses, with its fast layout: each layer
does one matmul on weights stacked once per call, and the window reads the text ids (no one-hot [U, V]
tensor per step); phi is stacked only when asked for. ``fast=False`` is the plain layout it is tested
against. Points come from :func:`jaxseq.nn.mixtures.sample_bivariate` on noise drawn before the loop.
On an H100 the float32 loop is bound by the matmuls (1024 lines: 8,979 lines/s fast step, 9,544
reference step); bf16 matmuls (``HWConfig(bf16=True)``) reach 14,896 lines/s.

Style priming (§5.3): the network first reads a real line's strokes with its text teacher-forced, the text
being ``prime_text + " " + new_text``; sampling then continues from that state, the window carries on into
the new text, and only the new strokes are returned.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.charset import Charset, encode_batch
from jaxseq.models.handwriting import model as hw
from jaxseq.nn import mixtures as mdn

# Sampling defaults, shared by :func:`generate`, the ``Hand`` API and the script's ``generate`` flags.
BIAS = 1.0            # eqs 61-62: 0 = raw samples, larger = neater
TEMPERATURE = 1.0     # divides the mixture/pen logits, scales the variances
PREDICTION_STEPS = 700  # points per unconditional line
MAX_STEPS = 2000      # points per synthesis line at most (the default step cap)
BATCH_SIZE = 256      # lines per jitted call (a larger n is sampled in batches: bounded memory)


def _sample_one(params, cfg, max_steps, unroll, stop_tail, return_phi, fast, key, text, bias,
                temperature, prime, prime_len):
    """One line (vmapped over everything but params). text: [U] ids (-1 pad); prime: [P, 3]."""
    cp = hw.compute_params(params, cfg)
    sws = hw.step_weights(cp, cfg, fast)                 # stacked once per call, outside the loop
    ids = text[None]
    text_in = ids if fast else (hw.one_hot_text(ids, cfg.vocab), jnp.ones(ids.shape, jnp.float32))
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
    noise = mdn.bivariate_noise(key, (max_steps, 1), cfg.n_mix)   # no RNG inside the loop

    def body(carry, nz):
        state, x, done, fired, tail, length = carry
        state, raw, phi = hw.step(cp, sws, cfg, state, x, text_in if cfg.synthesis else None)
        p = mdn.split_bivariate(raw, cfg.n_mix, bias=bias, temperature=temperature)
        xy, eos = mdn.sample_bivariate(None, p, noise=nz)
        point = jnp.concatenate([xy, eos[..., None]], -1)                          # [1, 3]
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
                 max_steps=PREDICTION_STEPS, unroll=None, stop_tail=0, return_phi=True, fast=True):
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


def default_max_steps(cfg: hw.HWConfig, texts) -> int:
    """Points per line when not given: two characters' worth per character of the longest text
    (``1 / kappa_scale`` points per character), within [50, 2000]; :data:`PREDICTION_STEPS` unconditioned."""
    if not cfg.synthesis:
        return PREDICTION_STEPS
    return max(50, min(int(max(len(t) for t in texts) * 2.0 / cfg.kappa_scale), MAX_STEPS))


def max_line_chars(cfg: hw.HWConfig) -> int:
    """Characters one synthesis line can hold within :data:`MAX_STEPS` points (two characters' worth of
    points per character, as :func:`default_max_steps` allows): longer texts would be cut off."""
    return max(1, int(MAX_STEPS * cfg.kappa_scale / 2.0))


def generate(params, cfg: hw.HWConfig, charset: Charset | None, texts, *, seed=0, bias=BIAS,
             temperature=TEMPERATURE, max_steps=None, primes=None, text_bucket=16, stop_tail=None,
             batch_size=BATCH_SIZE, progress=None):
    """Host-side convenience: encode texts (with optional ``primes``: list of (stroke3 [P,3], text) or
    None per line), call :func:`sample_batch` on batches of ``batch_size`` lines (device memory stays
    bounded; the last batch is padded so one shape compiles; a tqdm bar when there are several batches,
    or as ``progress`` says), and cut each line to its length. Line ``i`` depends only on ``seed`` and
    ``i``, not on the batch size. ``stop_tail``: see :func:`sample_batch` (default
    :func:`default_stop_tail`).

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
        max_steps = default_max_steps(cfg, texts)
    P = max([len(p[0]) for p in primes if p is not None] or [0])
    prime_arr = np.zeros((n, P, 3), np.float32)
    prime_lens = np.zeros((n,), np.int32)
    for i, p in enumerate(primes):
        if p is not None:
            prime_arr[i, :len(p[0])] = p[0]
            prime_lens[i] = len(p[0])
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed), n))
    b = np.broadcast_to(np.asarray(bias, np.float32), (n,)).copy()
    tau = np.broadcast_to(np.asarray(temperature, np.float32), (n,)).copy()
    tail = default_stop_tail(cfg) if stop_tail is None else int(stop_tail)
    bs = max(1, min(int(batch_size), n))
    starts = range(0, n, bs)
    bar = None
    if progress or (progress is None and len(starts) > 1):
        from tqdm import tqdm
        bar = tqdm(total=n, desc="lines", unit="line")
    out, out_phi = [], []
    for s0 in starts:
        idx = np.minimum(np.arange(s0, s0 + bs), n - 1)       # the last batch repeats its last line
        strokes, lengths, phis = jax.device_get(
            sample_batch(params, cfg, keys[idx], jnp.asarray(ids[idx]), b[idx], tau[idx], prime_arr[idx],
                         prime_lens[idx], max_steps=int(max_steps), stop_tail=tail))
        for j, i in enumerate(range(s0, min(s0 + bs, n))):
            L = int(lengths[j])
            out.append(np.array(strokes[j, :L]))
            u = int((ids[i] >= 0).sum()) + 1
            out_phi.append(np.array(phis[j, :L, :u]) if cfg.synthesis else None)
        if bar is not None:
            bar.update(min(bs, n - s0))
    if bar is not None:
        bar.close()
    return out, out_phi
