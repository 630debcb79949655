"""Scheduled-sampling schedules and mixing, the char-RNN's teacher-forced and scheduled-sampling losses,
free-running sampling, the n-gram yardstick, and a smoke run of the experiment on real text."""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.models.char_lm import model as cr
from jaxseq.nn.teacher_forcing import mix, teacher_forcing_prob

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------- schedules
def test_schedule_values():
    f = lambda *a, **k: float(teacher_forcing_prob(*a, **k))
    assert f(0, "linear", k=1.0, c=0.01) == 1.0
    assert f(30, "linear", k=1.0, c=0.01) == pytest.approx(0.7)
    assert f(500, "linear", k=1.0, c=0.01, eps_min=0.2) == pytest.approx(0.2)   # floor
    assert f(10, "exponential", k=0.9) == pytest.approx(0.9 ** 10, rel=1e-5)
    k = 100.0
    for s in (0, 250, 460, 1000):
        assert f(s, "inverse_sigmoid", k=k) == pytest.approx(k / (k + math.exp(s / k)), rel=1e-5)
    assert f(10 ** 7, "inverse_sigmoid", k=k) == pytest.approx(0.0, abs=1e-6)    # no overflow to nan
    assert f(123, "constant", k=0.25) == 0.25
    assert f(2000, "linear") == pytest.approx(1 - 2000 * 1e-4)           # per-schedule default k
    assert f(100, "exponential") == pytest.approx(0.999 ** 100, rel=1e-5)
    with pytest.raises(ValueError, match="unknown schedule"):
        teacher_forcing_prob(0, "cosine")


def test_schedules_monotone_and_jittable():
    steps = jnp.arange(0, 5000, 50)
    for kind, k in (("linear", 1.0), ("exponential", 0.999), ("inverse_sigmoid", 300.0)):
        e = jax.jit(lambda s: teacher_forcing_prob(s, kind, k=k, c=2e-4))(steps)
        assert np.all(np.diff(np.asarray(e)) <= 1e-7) and float(e.max()) <= 1 and float(e.min()) >= 0


def test_mix_extremes_and_rate():
    truth = {"a": jnp.arange(1000), "b": jnp.ones((1000, 2))}
    samp = {"a": -jnp.arange(1000) - 1, "b": jnp.zeros((1000, 2))}
    key = jax.random.PRNGKey(0)
    t = mix(key, 1.0, truth, samp)
    assert (t["a"] == truth["a"]).all() and (t["b"] == 1).all()
    s = mix(key, 0.0, truth, samp)
    assert (s["a"] == samp["a"]).all() and (s["b"] == 0).all()
    m = mix(key, 0.3, truth, samp)
    frac = float((m["a"] >= 0).mean())
    assert abs(frac - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 1000)
    assert ((m["a"] >= 0) == (m["b"][:, 0] == 1)).all()       # one coin per sequence for the pytree
    per = mix(key, jnp.array([1.0, 0.0] * 500), truth, samp)    # per-sequence eps
    assert (per["a"][::2] >= 0).all() and (per["a"][1::2] < 0).all()


# -------------------------------------------------------------------------------------- char RNN
@pytest.fixture(scope="module")
def model():
    cfg = cr.CharRNNConfig(vocab=11, embed=5, hidden=7, layers=2)
    params = cr.init(jax.random.PRNGKey(0), cfg)
    tok = jax.random.randint(jax.random.PRNGKey(1), (3, 9), 0, 11)
    return params, tok


def test_eps_one_equals_teacher_forcing_loss_and_grads(model):
    params, tok = model
    g = jax.value_and_grad
    (l_tf, _), g_tf = g(cr.tf_loss, has_aux=True)(params, {"tokens": tok}, jax.random.PRNGKey(2))
    (l_ss, m), g_ss = g(cr.ss_loss, has_aux=True)(params, {"tokens": tok, "eps": jnp.ones(3)},
                                                 jax.random.PRNGKey(3))
    np.testing.assert_allclose(l_ss, l_tf, rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(g_tf), jax.tree_util.tree_leaves(g_ss)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert float(m["eps"]) == 1.0


def test_tf_loss_matches_numpy_reference(model):
    params, tok = model
    p64 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    sig = lambda a: 1 / (1 + np.exp(-a))
    tok = np.asarray(tok)
    hs = [(np.zeros((3, 7)), np.zeros((3, 7))) for _ in p64["lstm"]]
    nll = []
    for t in range(tok.shape[1] - 1):
        x = p64["embed"][tok[:, t]]
        for li, p in enumerate(p64["lstm"]):
            h, c = hs[li]
            i, f, gg, o = np.split(x @ p["wx"] + h @ p["wh"] + p["b"], 4, -1)
            c = sig(f) * c + sig(i) * np.tanh(gg)
            h = sig(o) * np.tanh(c)
            hs[li], x = (h, c), h
        logits = x @ p64["out"]["w"] + p64["out"]["b"]
        lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        nll.append(lse - logits[np.arange(3), tok[:, t + 1]])
    ref = np.mean(nll)
    np.testing.assert_allclose(cr.tf_loss(params, {"tokens": jnp.asarray(tok)}, None)[0], ref, rtol=1e-5)


def test_eps_zero_feeds_samples(model):
    params, tok = model
    b0 = {"tokens": tok, "eps": jnp.zeros(3)}
    l0 = cr.ss_loss(params, b0, jax.random.PRNGKey(3))[0]
    assert float(l0) != pytest.approx(float(cr.tf_loss(params, {"tokens": tok}, None)[0]), rel=1e-6)
    assert float(l0) == float(cr.ss_loss(params, b0, jax.random.PRNGKey(3))[0])   # same key, same loss


def test_sample_shape_and_determinism(model):
    params, tok = model
    a = cr.sample(params, jax.random.PRNGKey(4), tok[:, :3], 12)
    b = cr.sample(params, jax.random.PRNGKey(4), tok[:, :3], 12)
    assert a.shape == (3, 12) and a.dtype == jnp.int32 and (a == b).all()
    assert int(a.min()) >= 0 and int(a.max()) < 11


def test_overfit_one_sequence():
    import optax
    text = "to be or not to be, that is the question. " * 3
    chars, stoi = cr.build_vocab(text)
    tok = jnp.asarray(cr.encode(text, stoi)[None, :])
    params = cr.init(jax.random.PRNGKey(0), cr.CharRNNConfig(len(chars), 8, 32))
    opt = optax.adam(2e-2)
    st = opt.init(params)

    @jax.jit
    def upd(p, s):
        l, g = jax.value_and_grad(lambda q: cr.tf_loss(q, {"tokens": tok}, None)[0])(p)
        u, s = opt.update(g, s)
        return optax.apply_updates(p, u), s, l
    for _ in range(150):
        params, st, l = upd(params, st)
    assert float(l) < 0.3, float(l)
    assert cr.decode(cr.encode("be, that", stoi), chars) == "be, that"


def test_ngram_normalised_and_hand_computed():
    lm = cr.CharNGram("abab", order=2)
    for h in ("", "a", "b", "x"):
        assert sum(lm.prob(h, c) for c in lm.alphabet) == pytest.approx(1.0)
    # unigram add-one: a: 3/6, b: 3/6; context "a" was followed by b twice (1 type):
    # P(b|a) = (2 + 1 * 3/6) / (2 + 1) = 5/6
    assert lm.prob("a", "b") == pytest.approx(5 / 6)
    assert lm.bits_per_char("b", context="a") == pytest.approx(-math.log2(5 / 6))
    assert cr.real_word_fraction("To be, or zzqx", {"to", "be", "or"}) == 0.75


# ------------------------------------------------------------------------------------- real data
def test_tinyshakespeare_vocab_roundtrip(data_dir):
    text = (data_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    chars, stoi = cr.build_vocab(text)
    tok = cr.encode(text, stoi)
    assert len(chars) == 65 and len(tok) == len(text) and cr.decode(tok[:500], chars) == text[:500]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        cr.encode("caf\u00e9", stoi)


@pytest.mark.slow  # ~40 s of compiling two losses, the sampler and the plots
def test_experiment_smoke_on_tinyshakespeare(data_dir, tmp_path):
    spec = importlib.util.spec_from_file_location("ss_exp", ROOT / "experiments" / "scheduled_sampling.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # dataclasses look their module up there
    spec.loader.exec_module(mod)
    cache = tmp_path / "ts.npz"
    mod.main(["--data-dir", str(data_dir), "--cache", str(cache)])
    z = np.load(cache)
    assert len(z["tokens"]) > 1_000_000 and len(str(z["chars"])) == 65
    small = tmp_path / "small.npz"   # a 30k-character slice keeps the smoke run fast
    np.savez(small, tokens=z["tokens"][:30000], chars=z["chars"])
    out = tmp_path / "out"
    mod.main(["--data", str(small), "--steps", "6", "--eval-every", "3", "--hidden", "16",
              "--seq-len", "20", "--batch-size", "4", "--n-samples", "2", "--sample-len", "20",
              "--out", str(out)])
    res = json.loads((out / "results.json").read_text())
    assert res["ss"]["val_bits_per_char"] < 7 and res["tf"]["val_bits_per_char"] < 7
    assert (out / "ss_curves.png").stat().st_size > 1000 and "=====" in (out / "samples_ss.txt").read_text()
