"""Sampling from the Graves handwriting networks: one jitted, vmapped call draws N lines on device.

Each line has its own text, bias (eqs 61-62), temperature, PRNG key and optional style prime. A line is a
``lax.while_loop`` over chunks of :data:`CHUNK` scanned steps, up to a fixed ``max_steps``, with a ``done``
flag (static shapes, no host round trip per step); the loop ends once every line of the batch is done.

Where a line ends (:func:`trim_line` finishes the job on the host). A synthesis line is *past its end*
once the window has passed the last character: phi at position U (one past the text) beats phi at every
character (Graves §5.2), or the window has sat on the last character for more than ``linger`` points (it
sometimes never moves on, and the line would otherwise scribble to the step cap). The paper's rule fires
while the last letter is still being drawn, so the line goes on until the pen next lifts: it stops at the
first pen-up once past its end, or ``stop_tail`` points later. A prediction line is past its end after
``max_steps`` points and stops at the next pen-up (at most ``stop_tail`` points later). A line cut by
``stop_tail`` with the pen down lifts the pen at its last point (:func:`trim_line`), so every line ends
with the pen up and no stroke begins after its last character; :func:`generate` draws a line whose
window never passes its text again. :func:`stray_tail` is the check used to measure this.

Speed (the sampling loop runs ``max_steps`` times, so per-step work is what counts): the step is
:func:`jaxseq.models.handwriting.model.step`, the cell training uses, with its fast layout: each layer
does one matmul on weights stacked once per call, and the window reads the text ids (no one-hot [U, V]
tensor per step); phi is stacked only when asked for. ``fast=False`` is the plain layout it is tested
against. Points come from :func:`jaxseq.nn.mixtures.sample_bivariate` on noise drawn once per chunk of
:data:`CHUNK` steps; the loop over chunks ends when every line is done, so bucketed (generous) step caps
cost no time. (The H100 figures below are from the single-scan loop before issue 11.)
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
PREDICTION_STEPS = 400  # points per unconditional line, then on to the next pen-up (a typical IAM line
                        # has ~330 points at stride 2)
PREDICTION_TAIL = 100   # points a prediction line may run past PREDICTION_STEPS looking for a pen-up
MAX_STEPS = 2000      # points per synthesis line at most (the default step cap)
BATCH_SIZE = 256      # lines per jitted call (a larger n is sampled in batches: bounded memory)
STEP_BUCKET = 64      # default step caps are rounded up to a multiple of this (few compiled shapes)
TEXT_BUCKET = 32      # texts are padded to a multiple of this many characters ("hello world" and
                      # "the quick brown fox jumps" share one compiled sampler)
CHUNK = 32            # sampling steps per inner scan; the loop over chunks stops when every line is done
RETRIES = 2           # redraws of a line whose window never passes its text (generate)
PRIME_BUCKET = 128    # priming lines are padded to a multiple of this many points


def _sample_one(params, cfg, max_steps, unroll, stop_tail, linger, soft_steps, return_phi, fast, key, text,
                bias, temperature, prime, prime_len):
    """One line (vmapped over everything but params). text: [U] ids (-1 pad); prime: [P, 3].
    Returns ``(points [S, 3], length, past_at, last_at, phi [S, U] or None)``: ``past_at`` is the step
    at which the line got past its end, ``last_at`` the first step with the window on the last
    character (both ``max_steps`` when never)."""
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
    n_chunks = -(-max_steps // CHUNK)

    def body(carry, nz):
        state, x, done, past, tail, length, on_last, past_at, last_at = carry
        state, raw, phi = hw.step(cp, sws, cfg, state, x, text_in if cfg.synthesis else None)
        p = mdn.split_bivariate(raw, cfg.n_mix, bias=bias, temperature=temperature)
        xy, eos = mdn.sample_bivariate(None, p, noise=nz)
        point = jnp.concatenate([xy, eos[..., None]], -1)                          # [1, 3]
        if cfg.synthesis:
            # Graves §5.2: phi one past the text beats phi at every character (ties go to the text)
            before = jnp.where(jnp.arange(U) < text_len, phi[0], -jnp.inf).max()
            at = jnp.argmax(jnp.where(jnp.arange(U) <= text_len, phi[0], -jnp.inf))
            is_last = at == text_len - 1
            on_last = on_last + is_last.astype(jnp.int32)
            past_now = past | (phi[0, text_len] > before) | (on_last > linger)
        else:
            is_last = length + 1 >= soft_steps
            past_now = past | is_last
        valid = ~done
        # once past the end, finish the stroke in progress: stop at the next pen lift (this point's
        # eos) or after stop_tail further points
        stop = past_now & ((point[0, 2] > 0) | (tail >= stop_tail)) | (length + 1 >= max_steps)
        t = length
        new = (state, point, done | stop, past_now, tail + past_now.astype(jnp.int32),
               length + valid.astype(jnp.int32), on_last,
               jnp.where(valid & past_now & ~past, t, past_at),
               jnp.where(valid & is_last & (last_at == max_steps), t, last_at))
        out = (point[0] * valid,)
        if return_phi:
            out += (phi[0] * valid if cfg.synthesis else jnp.zeros((0,), jnp.float32),)
        return new, out

    def chunk(c):
        # CHUNK steps on noise drawn per chunk (a line's points do not depend on max_steps); the outer
        # loop ends once every line is done, so a generous step cap costs nothing
        i, carry, bufs = c
        noise = mdn.bivariate_noise(jax.random.fold_in(key, i), (CHUNK, 1), cfg.n_mix)
        carry, outs = jax.lax.scan(body, carry, noise, unroll=unroll)
        return i + 1, carry, tuple(jax.lax.dynamic_update_index_in_dim(b, o, i, 0) for b, o in zip(bufs, outs))

    zero, never = jnp.array(0, jnp.int32), jnp.array(max_steps, jnp.int32)
    carry0 = (state, x0, jnp.array(False), jnp.array(False), zero, zero, zero, never, never)
    bufs = (jnp.zeros((n_chunks, CHUNK, 3), jnp.float32),)
    if return_phi:
        bufs += (jnp.zeros((n_chunks, CHUNK, U if cfg.synthesis else 0), jnp.float32),)
    _, final, bufs = jax.lax.while_loop(lambda c: (c[0] < n_chunks) & ~c[1][2], chunk, (zero, carry0, bufs))
    bufs = [b.reshape((n_chunks * CHUNK,) + b.shape[2:])[:max_steps] for b in bufs]
    return bufs[0], final[5], final[7], final[8], (bufs[1] if return_phi else None)


@functools.partial(jax.jit, static_argnames=("cfg", "max_steps", "unroll", "return_phi", "fast"))
def _sample_batch(params, cfg, keys, texts, biases, temperatures, primes, prime_lens, stop_tail, linger,
                  soft_steps, *, max_steps, unroll, return_phi, fast):
    fn = functools.partial(_sample_one, params, cfg, max_steps, unroll, stop_tail, linger, soft_steps,
                           return_phi, fast)
    return jax.vmap(fn)(keys, texts, biases, temperatures, primes, prime_lens)


def sample_batch(params, cfg: hw.HWConfig, keys, texts, biases, temperatures, primes, prime_lens,
                 max_steps=PREDICTION_STEPS, unroll=None, stop_tail=0, return_phi=True, fast=True,
                 linger=None, soft_steps=None, with_ends=False):
    """N lines in one jitted call. keys: [N, 2]; texts: [N, U] (-1 pad; U >= len + 1); biases,
    temperatures: [N]; primes: [N, P, 3] (P may be 0); prime_lens: [N]; ``unroll``: scan unroll
    (default ``cfg.unroll``); ``stop_tail`` (traced, like ``linger`` and ``soft_steps``: no recompile
    per value): at most this many points once a line is past its end, to finish the last stroke (0:
    stop at once, as in the paper); ``linger``: points the window may sit on the last character
    before the line counts as past its end (default :func:`default_linger`); ``soft_steps``
    (prediction): points after which a line is past its end (default ``max_steps``);
    ``return_phi``: also stack the window weights; ``fast=False``: the plain reference step.
    Returns (strokes [N, S, 3], lengths [N], phi [N, S, U] or None), plus ``(past_at [N], last_at
    [N])`` with ``with_ends`` (see :func:`_sample_one`; for :func:`trim_line`); strokes past a line's
    length are zero."""
    unroll = cfg.unroll if unroll is None else unroll  # fewer loop iterations: less per-step overhead
    linger = default_linger(cfg) if linger is None else linger
    soft = max_steps if soft_steps is None else soft_steps
    strokes, lengths, past_at, last_at, phi = _sample_batch(
        params, cfg, keys, texts, biases, temperatures, primes, prime_lens, jnp.asarray(stop_tail, jnp.int32),
        jnp.asarray(linger, jnp.int32), jnp.asarray(soft, jnp.int32), max_steps=int(max_steps),
        unroll=unroll, return_phi=return_phi, fast=fast)
    return (strokes, lengths, phi) + ((past_at, last_at) if with_ends else ())


def default_linger(cfg: hw.HWConfig) -> int:
    """Points the window may sit on the last character before the line counts as past its end: 3.5
    characters' worth (``1 / kappa_scale`` points per character; real lines spend at most about 2.5)."""
    return int(round(3.5 / cfg.kappa_scale)) if cfg.synthesis else 0


def default_stop_tail(cfg: hw.HWConfig) -> int:
    """Points allowed once past the end: two characters' worth (kappa_scale is characters per point),
    enough to finish the last letter's stroke (a descender takes up to 17 points past the rule);
    :data:`PREDICTION_TAIL` for a prediction line (it looks for its next pen-up)."""
    return int(round(2.0 / cfg.kappa_scale)) if cfg.synthesis else PREDICTION_TAIL


def bucket(n, size) -> int:
    """``n`` rounded up to a multiple of ``size`` (at least ``size``): one compiled shape for many."""
    return max(size, int(-(-int(n) // size) * size))


def default_max_steps(cfg: hw.HWConfig, texts, text_bucket=TEXT_BUCKET) -> int:
    """Points per line when not given: two characters' worth per character (``1 / kappa_scale`` points
    per character) of the longest text rounded up to its text bucket, then to :data:`STEP_BUCKET`,
    at most :data:`MAX_STEPS`; so texts of similar length share one compiled sampler.
    :data:`PREDICTION_STEPS` plus :data:`PREDICTION_TAIL` unconditioned."""
    if not cfg.synthesis:
        return bucket(PREDICTION_STEPS + PREDICTION_TAIL, STEP_BUCKET)
    chars = bucket(max(len(t) for t in texts), text_bucket)
    return min(bucket(chars * 2.0 / cfg.kappa_scale, STEP_BUCKET), MAX_STEPS)


def max_line_chars(cfg: hw.HWConfig) -> int:
    """Characters one synthesis line can hold within :data:`MAX_STEPS` points (two characters' worth of
    points per character, as :func:`default_max_steps` allows): longer texts would be cut off."""
    return max(1, int(MAX_STEPS * cfg.kappa_scale / 2.0))


def trim_line(points, past_at, last_at=None, synthesis=True):
    """One sampled line ``points [L, 3]`` ended cleanly (``past_at`` from :func:`sample_batch`): cut at
    the first pen-up once past its end (nothing begun after it is kept), and a line that stopped with
    the pen down (its tail or step cap ran out) lifts the pen at its last point. Its strokes are not cut
    back: the stroke in progress when the window passes the text is usually the last letter's (a
    descender, a cursive word). ``last_at`` and ``synthesis`` are unused (kept for callers). Returns a
    new array whose last row has eos 1."""
    pts = np.array(points, np.float32)
    if len(pts) == 0:
        return pts
    ups = np.flatnonzero(pts[:, 2] > 0.5)
    after = ups[ups >= past_at]
    if len(after):
        return pts[:after[0] + 1]
    pts[-1, 2] = 1.0
    return pts


def stray_reason(points, phi, kappa_scale) -> str:
    """Why a synthesis line ``points [L, 3]`` (with its window weights ``phi [L, U + 1]``) has a stray
    tail, or ``""``: ``"never passed"`` (its window never passes the last character by Graves'
    criterion, phi one past the text beating phi at every character), ``"new stroke"`` (a stroke
    begins after it passed) or ``"pen down"`` (the pen stays down for more than one character's worth
    of points, ``1 / kappa_scale``, after it passed: an extra squiggle, or a long last letter such as
    a descender, which this measure cannot tell apart)."""
    phi = np.asarray(phi)
    U = phi.shape[1] - 1
    past = np.flatnonzero(phi[:, U] > phi[:, :U].max(1))
    if len(past) == 0:
        return "never passed"
    t = past[0]
    ups = np.flatnonzero(np.asarray(points)[:, 2] > 0.5)
    if (ups[ups >= t] < len(points) - 1).any():
        return "new stroke"                            # a pen-up past the end, then more ink
    end = ups[ups >= t][0] if (ups >= t).any() else len(points) - 1
    return "pen down" if end - t > 1.0 / kappa_scale else ""


def stray_tail(points, phi, kappa_scale) -> bool:
    """Whether :func:`stray_reason` finds a stray tail: the measure of ``benchmarks/handwriting_ocr.py
    tails``."""
    return bool(stray_reason(points, phi, kappa_scale))


def generate(params, cfg: hw.HWConfig, charset: Charset | None, texts, *, seed=0, bias=BIAS,
             temperature=TEMPERATURE, max_steps=None, primes=None, text_bucket=TEXT_BUCKET, stop_tail=None,
             batch_size=BATCH_SIZE, progress=None, trim=True, linger=None, retries=RETRIES):
    """Host-side convenience: encode texts (with optional ``primes``: list of (stroke3 [P,3], text) or
    None per line), call :func:`sample_batch` on batches of ``batch_size`` lines (device memory stays
    bounded; the last batch is padded so one shape compiles; a tqdm bar when there are several batches,
    or as ``progress`` says), and cut each line to its length (and :func:`trim_line` it unless
    ``trim`` is False). Line ``i`` depends only on ``seed`` and ``i``, not on the batch size.
    ``max_steps``: a synthesis line's step cap (default :func:`default_max_steps`), or the points
    after which a prediction line stops at its next pen-up (default :data:`PREDICTION_STEPS`).
    ``stop_tail``, ``linger``: see :func:`sample_batch` (defaults :func:`default_stop_tail`,
    :func:`default_linger`). Shapes are bucketed
    (texts to ``text_bucket`` characters, step caps to :data:`STEP_BUCKET`, primes to
    :data:`PRIME_BUCKET` points, a small batch to a power of two) so that another call with a similar
    text reuses the compiled sampler (and, across runs, JAX's persistent cache).

    ``retries``: a synthesis line whose window never passes its text (it stalls, or lingers on the last
    character until :func:`default_linger` ends it) is drawn again with the next key of its own, up to
    this many times (the first that passes is kept, else the first draw). Returns ``(list of stroke3
    [L_i, 3] numpy arrays, list of phi [L_i, U_i+1])``.
    """
    n = len(texts)
    primes = primes or [None] * n
    full = [(p[1] + " " + t) if p is not None else t for p, t in zip(primes, texts)]
    if cfg.synthesis:
        U = bucket(max(len(t) for t in full) + 1, text_bucket)
        ids, _ = encode_batch(charset, full, U)
    else:
        ids = np.full((n, 1), -1, np.int32)
    tail = default_stop_tail(cfg) if stop_tail is None else int(stop_tail)
    soft = None
    if not cfg.synthesis:
        soft = PREDICTION_STEPS if max_steps is None else int(max_steps)
        max_steps = bucket(soft + tail, STEP_BUCKET)
    elif max_steps is None:
        max_steps = default_max_steps(cfg, texts, text_bucket)
    P = max([len(p[0]) for p in primes if p is not None] or [0])
    P = bucket(P, PRIME_BUCKET) if P else 0
    prime_arr = np.zeros((n, P, 3), np.float32)
    prime_lens = np.zeros((n,), np.int32)
    for i, p in enumerate(primes):
        if p is not None:
            prime_arr[i, :len(p[0])] = p[0]
            prime_lens[i] = len(p[0])
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed), n))
    b = np.broadcast_to(np.asarray(bias, np.float32), (n,)).copy()
    tau = np.broadcast_to(np.asarray(temperature, np.float32), (n,)).copy()
    bs = max(1, min(int(batch_size), 1 << (n - 1).bit_length()))   # 1, 2, 4, ...: few batch shapes
    bar = None
    if progress or (progress is None and n > bs):
        from tqdm import tqdm
        bar = tqdm(total=n, desc="lines", unit="line")
    def run(rows, line_keys, count=True):
        """Sample lines ``rows`` (indices into texts) with ``line_keys``, in padded batches of ``bs``:
        ``[(line, phi, passed)]`` where ``passed``: the window passed the text (Graves' criterion)."""
        got = []
        for s0 in range(0, len(rows), bs):
            sel = np.asarray(rows[s0:s0 + bs])
            pad = np.concatenate([np.arange(len(sel)), np.full(bs - len(sel), len(sel) - 1)])
            idx, k = sel[pad], line_keys[s0:s0 + bs][pad]
            strokes, lengths, phis, past_at, last_at = jax.device_get(
                sample_batch(params, cfg, k, jnp.asarray(ids[idx]), b[idx], tau[idx], prime_arr[idx],
                             prime_lens[idx], max_steps=int(max_steps), stop_tail=tail, soft_steps=soft,
                             linger=linger, with_ends=True))
            for j, i in enumerate(sel):
                line = strokes[j, :int(lengths[j])]
                if trim:
                    line = trim_line(line, int(past_at[j]), int(last_at[j]), cfg.synthesis)
                u = int((ids[i] >= 0).sum()) + 1
                phi = np.array(phis[j, :len(line), :u]) if cfg.synthesis else None
                passed = (not cfg.synthesis or len(line) == 0 or
                          bool((phis[j, :int(lengths[j]), u - 1] >
                                phis[j, :int(lengths[j]), :u - 1].max(1)).any()))
                got.append((np.array(line), phi, passed))
            if bar is not None and count:
                bar.update(len(sel))
        return got

    got = run(list(range(n)), keys)
    for attempt in range(1, retries + 1 if cfg.synthesis else 1):
        failed = [i for i in range(n) if not got[i][2]]
        if not failed:
            break
        again = run(failed, np.asarray([jax.random.fold_in(keys[i], attempt) for i in failed]), False)
        for i, g in zip(failed, again):
            if g[2]:
                got[i] = g
    if bar is not None:
        bar.close()
    return [g[0] for g in got], [g[1] for g in got]
