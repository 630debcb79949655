"""Sampling from a trained Sketch-RNN: unconditional or from z, conditional reconstruction, latent
interpolation, and rendering grids to PNG/SVG (via :mod:`jaxseq.viz.strokes`).

Sampling is one jitted ``lax.scan`` of fixed length ``max_len`` vmapped over the batch (shared weights,
per-sketch keys); once a sketch draws the end state (p3) the rest of its rows are end tokens.

Empty drawings: for a few codes z drawn from the prior (5 % of kanji codes, 0.6 % of sheep codes at
tau 0.3), the decoder's very first pen distribution puts almost all its mass on "end of sketch" (z lies
where the encoder's posteriors put little mass, so the decoder never learned a drawing there), and the
sample ends before its first point. No training sketch is that short, so the sampler forbids the end
state during the first ``min_len`` steps: the shortest training sketch, recorded in the checkpoint meta
(``min_len``), else 1.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.nn import layers
from jaxseq.nn import scan as rnn
from jaxseq.nn import mixtures as mdn
from jaxseq.nn.cells import LSTM
from jaxseq.data.sketches import START, make_batch, to_stroke3, to_stroke5
from jaxseq.models.sketch_rnn.model import SketchConfig, decoder_inputs, encode, initial_state

# Defaults shared by the Python API and the command line (defined once).
TEMPERATURE = 0.4     # tau (sec. 4): lower draws tidier, less varied sketches
N_SAMPLES = 16        # sketches per grid, and interpolation steps
SEED = 0
BATCH_SIZE = 500      # sketches per jitted call: a larger n is sampled in batches (bounded memory)
MIN_LEN = 1           # no end of sketch before this many points (checkpoints record their own)


def _decode_step(params, cfg, zb, temperature, min_len):
    """The sampling step ``((carry, prev [1, 5], done), (key, t)) -> (state, row [5])``: no end of
    sketch while ``t < min_len``; after the end, end tokens."""
    def step(state, inp):
        k, t = inp
        carry, prev, done = state
        x = decoder_inputs(cfg, prev[:, None, :], zb)[:, 0]
        carry, h = LSTM.step(params["dec"], carry, x)
        p = mdn.split_bivariate(layers.dense(params["out"], h), cfg.n_mix, n_pen=3,
                                temperature=temperature)
        too_early = (t < min_len) & (jnp.arange(3) == 2)       # no end before min_len points
        p["pen_logits"] = jnp.where(too_early, -1e9, p["pen_logits"])
        xy, pen = mdn.sample_bivariate(k, p, n_pen=3)
        s = jnp.concatenate([xy, jax.nn.one_hot(pen, 3)], -1)
        done = done | (pen[0] == 2)   # the end row itself is the end token (no offset)
        s = jnp.where(done, jnp.asarray([0, 0, 0, 0, 1], jnp.float32), s)
        return (carry, s, done), s[0]
    return step


@partial(jax.jit, static_argnames=("cfg", "max_len"))
def _sample(params, cfg, keys, z, temperature, max_len, min_len=MIN_LEN):
    def one(key, z1):
        zb = None if z1 is None else z1[None]
        carry = initial_state(params, cfg, zb, 1)
        start = jnp.asarray(START)[None]
        _, out = jax.lax.scan(_decode_step(params, cfg, zb, temperature, min_len),
                              (carry, start, jnp.array(False)),
                              (jax.random.split(key, max_len), jnp.arange(max_len)))
        return out
    return jax.vmap(one)(keys, z)


@partial(jax.jit, static_argnames=("cfg", "max_len"))
def _complete(params, cfg, keys, z, prefix, prefix_len, temperature, max_len, min_len=MIN_LEN):
    """Continuations of one started sketch: the decoder reads ``prefix [P + 1, 5]`` (start token, then
    the ``prefix_len`` real rows, end-token padding) teacher-forced, then samples ``max_len`` rows."""
    def one(key, z1):
        zb = None if z1 is None else z1[None]
        xs = decoder_inputs(cfg, prefix[None, :-1], zb)
        mask = (jnp.arange(prefix.shape[0] - 1) < prefix_len)[None]
        _, carry = rnn.run(LSTM, params["dec"], xs, mask=mask, carry=initial_state(params, cfg, zb, 1))
        _, out = jax.lax.scan(_decode_step(params, cfg, zb, temperature, min_len - prefix_len),
                              (carry, prefix[prefix_len][None], jnp.array(False)),
                              (jax.random.split(key, max_len), jnp.arange(max_len)))
        return out
    return jax.vmap(one)(keys, z)


def complete(params, cfg: SketchConfig, prefix, scale, key, n, *, temperature=TEMPERATURE, min_len=MIN_LEN):
    """``n`` completions of the started sketch ``prefix`` (stroke-3, data units, fewer than
    ``cfg.max_len`` points): each is the prefix followed by what the decoder draws after reading it
    (Ha & Eck sec. 5: the model finishes a drawing begun by a person). A conditional model decodes from
    codes drawn from the prior, one per completion, so the completions differ (codes from the encoder's
    posterior of the prefix describe a drawing that ends where the prefix ends: the decoder then stops
    after a few points); an unconditional one from its zero state. Returns stroke-3 in data units."""
    prefix = np.asarray(prefix, np.float32)
    P = len(prefix)
    s = prefix.copy()
    s[:, :2] /= scale
    rows = np.concatenate([np.asarray(START)[None], to_stroke5(s, cfg.max_len)], 0)   # [Nmax + 1, 5]
    z = None
    if cfg.conditional:
        z = jax.random.normal(jax.random.fold_in(key, 1), (n, cfg.z_size))
    out = _complete(params, cfg, jax.random.split(key, n), z, jnp.asarray(rows), jnp.int32(P),
                    jnp.float32(temperature), int(cfg.max_len - P), jnp.int32(min_len))
    return [np.concatenate([prefix, c], 0) for c in to_stroke3_list(out, scale)]


def sample(params, cfg: SketchConfig, key, *, n=None, z=None, temperature=TEMPERATURE, max_len=None,
           min_len=MIN_LEN):
    """Stroke-5 samples ``[B, max_len, 5]`` in normalised units (multiply dx, dy by the scale).

    Conditional models need ``z [B, Nz]`` (use ``jax.random.normal`` for the prior); unconditional
    models take ``n``.
    """
    if cfg.conditional and z is None:
        if n is None:
            raise ValueError("give z or n")
        z = jax.random.normal(jax.random.fold_in(key, 1), (n, cfg.z_size))
    B = n if z is None else z.shape[0]
    keys = jax.random.split(key, B)
    return _sample(params, cfg, keys, None if not cfg.conditional else jnp.asarray(z),
                   jnp.float32(temperature), int(max_len or cfg.max_len), jnp.int32(min_len))


def sample_batched(params, cfg: SketchConfig, key, n, *, z=None, temperature=TEMPERATURE, batch_size=BATCH_SIZE,
                   scale=1.0, progress=None, min_len=MIN_LEN):
    """``n`` sketches as stroke-3 in data units (``scale``), sampled ``batch_size`` at a time so memory
    stays bounded for any ``n`` (the last batch is padded: one compiled shape; a tqdm bar when there are
    several batches, or as ``progress`` says). The same keys and prior codes as :func:`sample` draws
    for all ``n`` at once, so sketch ``i`` does not depend on the batch size."""
    if cfg.conditional and z is None:
        z = jax.random.normal(jax.random.fold_in(key, 1), (n, cfg.z_size))
    keys = jax.random.split(key, n)
    bs = max(1, min(int(batch_size), n))
    starts = range(0, n, bs)
    bar = None
    if progress or (progress is None and len(starts) > 1):
        from tqdm import tqdm
        bar = tqdm(total=n, desc="sketches", unit="sketch")
    out = []
    for s0 in starts:
        idx = np.minimum(np.arange(s0, s0 + bs), n - 1)
        zb = None if z is None else jnp.asarray(np.asarray(z)[idx])
        s5 = _sample(params, cfg, keys[idx], zb, jnp.float32(temperature), int(cfg.max_len),
                     jnp.int32(min_len))
        out += to_stroke3_list(np.asarray(s5)[:min(bs, n - s0)], scale)
        if bar is not None:
            bar.update(min(bs, n - s0))
    if bar is not None:
        bar.close()
    return out


def encode_sketches(params, cfg, stroke3_list, scale, key=None):
    """z for raw stroke-3 sketches (offsets in data units): the mean, or a sample when ``key`` is set."""
    seqs = []
    for s in stroke3_list:
        s = np.asarray(s, np.float32).copy()
        s[:, :2] /= scale
        seqs.append(s)
    b = make_batch(seqs, cfg.max_len)
    mu, sigma_hat = jax.jit(encode, static_argnums=1)(params, cfg, jnp.asarray(b["x"][:, 1:]),
                                                      jnp.asarray(b["length"]))
    if key is None:
        return mu
    return mu + jnp.exp(sigma_hat / 2.0) * jax.random.normal(key, mu.shape)


def reconstruct(params, cfg, stroke3_list, scale, key, *, temperature=TEMPERATURE, min_len=MIN_LEN):
    """Decode each sketch's latent code: list of stroke-3 in data units."""
    z = encode_sketches(params, cfg, stroke3_list, scale)
    return to_stroke3_list(sample(params, cfg, key, z=z, temperature=temperature, min_len=min_len),
                           scale)


def slerp(z0, z1, t):
    """Spherical interpolation (White 2016), falling back to lerp for nearly parallel codes."""
    n0, n1 = z0 / jnp.linalg.norm(z0), z1 / jnp.linalg.norm(z1)
    omega = jnp.arccos(jnp.clip(jnp.dot(n0, n1), -1.0, 1.0))
    so = jnp.sin(omega)
    t = jnp.asarray(t)[:, None]
    lerp = (1 - t) * z0 + t * z1
    sl = (jnp.sin((1 - t) * omega) / jnp.where(so > 1e-6, so, 1.0)) * z0 + \
         (jnp.sin(t * omega) / jnp.where(so > 1e-6, so, 1.0)) * z1
    return jnp.where(so > 1e-6, sl, lerp)


def interpolate(params, cfg, sketch_a, sketch_b, scale, key, *, steps=N_SAMPLES,
                temperature=TEMPERATURE, method="slerp", min_len=MIN_LEN):
    """Sketches decoded along the path between the codes of two sketches (same key for each)."""
    z = encode_sketches(params, cfg, [sketch_a, sketch_b], scale)
    t = jnp.linspace(0.0, 1.0, steps)
    zs = slerp(z[0], z[1], t) if method == "slerp" else (1 - t[:, None]) * z[0] + t[:, None] * z[1]
    keys_same = jnp.broadcast_to(key, (steps,) + key.shape)
    out = _sample(params, cfg, keys_same, zs, jnp.float32(temperature), cfg.max_len, jnp.int32(min_len))
    return to_stroke3_list(out, scale)


def to_stroke3_list(s5, scale):
    """Batch of stroke-5 samples [B, T, 5] (normalised) -> list of stroke-3 in data units."""
    out = []
    for s in np.asarray(s5):
        s3 = to_stroke3(s)
        s3[:, :2] *= scale
        out.append(s3)
    return out


def save_grid(path, sketches, titles=None):
    """Render stroke-3 sketches: ``.svg`` -> one SVG (stacked), anything else -> a PNG grid. Returns
    the path."""
    from jaxseq.viz import strokes  # rendering lives with the other drawings (matplotlib on demand)
    path = Path(path)
    if path.suffix.lower() == ".svg":
        return strokes.save_svg(path, sketches, titles=titles)
    return strokes.plot_grid(path, sketches, titles=titles)
