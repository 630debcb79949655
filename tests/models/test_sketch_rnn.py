"""Sketch-RNN model: losses against float64 references, KL annealing, the fused encoder, sampling,
overfitting, and a real sheep batch through the loss. (Data formats: tests/data/test_sketches.py; the
Python API: test_sketch_rnn_api.py; the command line: tests/experiments/test_sketch_rnn_cli.py.)"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.nn import mixtures as mdn
from jaxseq.nn import scan as rnn
from jaxseq.data import sketches as sd
from jaxseq.models.sketch_rnn import model as sr
from jaxseq.models.sketch_rnn import sample as ss
from jaxseq.nn.cells import LSTM

TINY = sr.SketchConfig(enc_size=8, dec_size=16, z_size=4, n_mix=3, max_len=16, rec_dropout=0.0)


def random_sketch(rng, n):
    """n points: offsets in [-20, 20], pen lifted after ~20% of them and after the last."""
    xy, pen = rng.integers(-20, 21, (n, 2)), rng.random(n) < 0.2
    return np.column_stack([xy, pen | (np.arange(n) == n - 1)]).astype(np.float32)


# ------------------------------------------------------------------------------------------- losses
def test_kl_matches_numpy_reference():
    rng = np.random.default_rng(5)
    mu, sh = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    # KL(N(mu, sigma^2) || N(0, 1)) per dimension, averaged over dimensions (paper eq 10 / Nz)
    var = np.exp(sh)
    ref = np.mean(0.5 * (var + mu ** 2 - 1.0 - np.log(var)), -1)
    got = sr.kl_divergence(jnp.asarray(mu, jnp.float32), jnp.asarray(sh, jnp.float32))
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-5, atol=1e-6)
    assert float(sr.kl_divergence(jnp.zeros((1, 3)), jnp.zeros((1, 3)))[0]) == 0.0


def _np_recon(raw, target, length, M):
    """float64 reference of eq 9 from the raw outputs, written out per point."""
    raw, target = raw.astype(np.float64), target.astype(np.float64)
    B, T, _ = target.shape
    ls_, lp_ = np.zeros(B), np.zeros(B)
    for b in range(B):
        for t in range(T):
            r = raw[b, t]
            logit, m1, m2, s1, s2, rho = (r[i * M:(i + 1) * M] for i in range(6))
            pi = np.exp(logit - logit.max())
            pi /= pi.sum()
            s1, s2, rho = np.exp(s1), np.exp(s2), np.tanh(rho) * (1 - 1e-5)
            x, y = target[b, t, 0], target[b, t, 1]
            zx, zy = (x - m1) / s1, (y - m2) / s2
            q = zx ** 2 + zy ** 2 - 2 * rho * zx * zy
            dens = np.exp(-q / (2 * (1 - rho ** 2))) / (2 * np.pi * s1 * s2 * np.sqrt(1 - rho ** 2))
            if t < length[b]:
                ls_[b] -= np.log((pi * dens).sum()) / T
            pen = r[6 * M:]
            logp = pen - pen.max() - np.log(np.exp(pen - pen.max()).sum())
            lp_[b] -= (logp * target[b, t, 2:]).sum() / T
    return ls_, lp_


def test_reconstruction_loss_reference_and_masking():
    rng = np.random.default_rng(6)
    M, T = 3, 10
    b = sd.make_batch([random_sketch(rng, n) / 10 for n in (4, 10)], T)
    target, length = b["x"][:, 1:], b["length"]
    raw = rng.normal(0, 0.5, (2, T, 6 * M + 3)).astype(np.float32)
    rec = jax.jit(sr.reconstruction_loss, static_argnums=3)
    l_s, l_p = rec(jnp.asarray(raw), jnp.asarray(target), jnp.asarray(length), M)
    r_s, r_p = _np_recon(raw, target, length, M)
    np.testing.assert_allclose(np.asarray(l_s), r_s, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(l_p), r_p, rtol=1e-4)
    # past the end (sketch 0: t >= 4) the offsets do not count but the pen state (end token) does
    raw2 = raw.copy()
    raw2[0, 6:, :6 * M] += 3.0
    l_s2, l_p2 = rec(jnp.asarray(raw2), jnp.asarray(target), jnp.asarray(length), M)
    np.testing.assert_allclose(np.asarray(l_s2), np.asarray(l_s), rtol=1e-6)
    raw3 = raw.copy()
    raw3[0, 6:, 6 * M + 2] += 3.0          # more confident end state after the end: pen loss drops
    l_s3, l_p3 = rec(jnp.asarray(raw3), jnp.asarray(target), jnp.asarray(length), M)
    assert float(l_p3[0]) < float(l_p[0]) - 1e-3 and float(l_s3[0]) == float(l_s[0])


def test_kl_annealing_schedule():
    cfg = dataclasses.replace(TINY, w_kl=0.5, eta_min=0.01, kl_decay=0.9)
    for step in (0, 1, 10, 1000):
        want = 0.5 * (1 - 0.99 * 0.9 ** step)
        assert math.isclose(float(sr.kl_weight(cfg, jnp.int32(step))), want, rel_tol=1e-5)
    # the loss = Lr + w_KL * eta * max(L_KL, KL_min) composition is checked in test_overfit_few_sketches


def test_fused_encoder_equals_run_bidirectional():
    p = sr.init(jax.random.PRNGKey(0), TINY)
    x = jax.random.normal(jax.random.PRNGKey(1), (3, TINY.max_len, 5))
    L = jnp.array([TINY.max_len, 5, 1])
    enc = jax.jit(sr.encode, static_argnums=1)
    a = enc(p, TINY, x, L)
    b = enc(p, dataclasses.replace(TINY, enc_fused=False), x, L)
    for u, v in zip(a, b):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), atol=1e-6)
    # the encoder ignores what lies past each sketch's end
    x2 = x.at[1, 5:].set(7.0)
    np.testing.assert_allclose(np.asarray(enc(p, TINY, x2, L)[0]), np.asarray(a[0]), atol=1e-6)


# ----------------------------------------------------------------------------------------- sampling
def test_sampling_cold_is_deterministic_and_stops():
    cfg = TINY
    p = sr.init(jax.random.PRNGKey(3), cfg)
    z = jax.random.normal(jax.random.PRNGKey(4), (3, cfg.z_size))
    # tau -> 0: argmax component and pen state, offsets at the component mean +- sigma * sqrt(tau).
    # (At tau = 1e-4 an untrained net's nearly tied components can still flip between two runs.)
    a = np.asarray(ss.sample(p, cfg, jax.random.PRNGKey(10), z=z, temperature=1e-6))
    b = np.asarray(ss.sample(p, cfg, jax.random.PRNGKey(11), z=z, temperature=1e-6))
    assert a.shape == (3, cfg.max_len, 5)
    np.testing.assert_array_equal(a[..., 2:], b[..., 2:])             # same pen states
    np.testing.assert_allclose(a[..., :2], b[..., :2], atol=0.02)   # ~20 sigma * sqrt(tau)
    hot = np.asarray(ss.sample(p, cfg, jax.random.PRNGKey(11), z=z, temperature=1.0))
    assert np.abs(hot[..., :2] - a[..., :2]).max() > 0.1              # a warm sampler does vary
    # after the first end state, every row is the end token
    for s in np.concatenate([a, hot]):
        ends = np.nonzero(s[:, 4] == 1)[0]
        if len(ends):
            np.testing.assert_array_equal(s[ends[0]:], np.tile(sd.END, (len(s) - ends[0], 1)))


def test_no_end_of_sketch_before_min_len():
    """The empty-drawing bug: a decoder whose first pen distribution is all 'end' used to give an
    empty drawing; the sampler now draws at least ``min_len`` points (then obeys the model)."""
    cfg = TINY
    p = sr.init(jax.random.PRNGKey(3), cfg)
    p["out"]["b"] = p["out"]["b"].at[6 * cfg.n_mix + 2].set(50.0)     # p(end) ~ 1 at every step
    z = jax.random.normal(jax.random.PRNGKey(4), (4, cfg.z_size))
    lengths = lambda out: [len(sd.to_stroke3(x)) for x in np.asarray(out)]
    assert lengths(ss.sample(p, cfg, jax.random.PRNGKey(1), z=z, min_len=0)) == [0, 0, 0, 0]
    assert lengths(ss.sample(p, cfg, jax.random.PRNGKey(1), z=z)) == [1, 1, 1, 1]     # default 1
    assert lengths(ss.sample(p, cfg, jax.random.PRNGKey(1), z=z, min_len=5)) == [5, 5, 5, 5]


@pytest.mark.slow
def test_sampling_unconditional():
    """Decoder-only model: no z anywhere (a compile of its own, hence slow)."""
    un = dataclasses.replace(TINY, conditional=False)
    pu = sr.init(jax.random.PRNGKey(3), un)
    s5 = np.asarray(ss.sample(pu, un, jax.random.PRNGKey(0), n=2))
    assert s5.shape == (2, TINY.max_len, 5) and np.isfinite(s5).all()
    np.testing.assert_array_equal(s5[..., 2:].sum(-1), 1.0)


def test_slerp_endpoints_and_norm():
    z0, z1 = jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0])
    zs = ss.slerp(z0, z1, jnp.linspace(0, 1, 5))
    np.testing.assert_allclose(np.asarray(zs[0]), z0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(zs[-1]), z1, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ss.slerp(z0, z0, jnp.array([0.5]))[0]), z0, atol=1e-6)


# ----------------------------------------------------------------------------------------- training
def test_overfit_few_sketches():
    from jaxseq.training.loop import TrainConfig, make_optimizer, make_train_step
    rng = np.random.default_rng(8)
    seqs = [random_sketch(rng, n) / 20 for n in (6, 10, 12, 16)]
    seqs = [np.round(s * 4) / 4 for s in seqs]
    b = sd.make_batch(seqs, 16)
    anneal_step = jnp.int32(3)                 # the trainer's step 3: eta = 1 - 0.99 * 0.9^3
    cfg = dataclasses.replace(TINY, dec_size=32, z_size=4, w_kl=0.5, kl_min=0.2, eta_min=0.01, kl_decay=0.9)
    params = sr.init(jax.random.PRNGKey(0), cfg)
    opt = make_optimizer(TrainConfig(lr=1e-2, clip_norm=1.0))
    step = make_train_step(sr.make_loss(cfg), opt)   # the file's only train-step compile
    state = opt.init(params)
    losses, kls = [], []
    wk = 0.5 * (1 - 0.99 * 0.9 ** 3)
    for i in range(80):
        params, state, m = step(params, state, b, jax.random.PRNGKey(i), anneal_step)
        losses.append(float(m["loss"]))
        kls.append(float(m["kl"]))
        # eqs 9-12: the loss is Lr + w_KL * eta_step * max(L_KL, KL_min), KL below the floor costs KL_min
        np.testing.assert_allclose(float(m["loss"]), float(m["lr"]) + wk * max(float(m["kl"]), cfg.kl_min),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(float(m["kl_weight"]), wk, rtol=1e-5)
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0] - 2.0, (losses[0], losses[-1])
    assert min(kls) < cfg.kl_min < max(kls), "both sides of the KL floor were visited"


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.slow
def test_sheep_batch_through_the_model(data_dir):
    """A real Nmax = 250 batch through the loss (a compile of its own; the CLI test covers it too)."""
    data = sd.load(sd.resolve("sheep", data_dir), max_len=250)
    b0 = sd.BatchMaker(data["train"], sd.scale_factor(data["train"]), 250, 4, seed=0)(0)
    cfg = dataclasses.replace(TINY, max_len=250)
    p = sr.init(jax.random.PRNGKey(0), cfg)
    loss, m = jax.jit(sr.make_loss(cfg))(p, b0, jax.random.PRNGKey(0), jnp.int32(0))
    assert np.isfinite(float(loss)) and float(m["l_p"]) > 0


# ---------------------------------------------------------------------------- hostile arguments (API)
def _tiny_model(params=None):
    from jaxseq.models.sketch_rnn import SketchRNN
    p = sr.init(jax.random.PRNGKey(3), TINY) if params is None else params
    return SketchRNN(p, TINY, 2.0, {"examples": []}, 1, "ckpt/tiny")


def test_api_validates_arguments_and_batches():
    m = _tiny_model()
    for kw, msg in (({"temperature": 0}, "temperature 0"), ({"temperature": -1}, "temperature -1"),
                    ({"temperature": float("nan")}, "temperature nan"), ({"n": 0}, "n 0"),
                    ({"n": -4}, "n -4"), ({"batch_size": 0}, "batch_size 0")):
        with pytest.raises(ValueError, match=msg):
            m.sample(**{"n": 2, **kw})
    rng = np.random.default_rng(0)
    good = random_sketch(rng, 5)
    for drawings, msg in (([], "no drawings"), ([np.zeros((0, 3))], r"drawings\[0\] is empty"),
                          ([good, np.zeros((4, 2))], r"drawings\[1\] has shape \(4, 2\)"),
                          ([np.full((3, 3), np.nan)], "non-finite"),
                          ([random_sketch(rng, TINY.max_len + 1)], "reads at most 16")):
        with pytest.raises(ValueError, match=msg):
            m.reconstruct(drawings)
    with pytest.raises(ValueError, match="steps 0"):
        m.interpolate(good, good, steps=0)
    one = m.sample(5, seed=2)
    batched = m.sample(5, seed=2, batch_size=2, progress=False)      # sketch i depends on (seed, i)
    assert len(one) == len(batched) == 5
    for a, b in zip(one, batched):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_nan_params_are_refused():
    from jaxseq.errors import DataError
    nan = jax.tree_util.tree_map(lambda a: jnp.full(a.shape, jnp.nan, a.dtype),
                                 sr.init(jax.random.PRNGKey(3), TINY))
    with pytest.raises(DataError, match="sampling from ckpt/tiny produced non-finite points"):
        _tiny_model(nan).sample(2)
