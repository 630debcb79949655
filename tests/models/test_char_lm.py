"""Scheduled-sampling schedules and mixing, the char-RNN's teacher-forced and scheduled-sampling losses
(the eps schedule driven by the trainer's step), free-running sampling, the n-gram yardstick, and the
public API (``char_lm.load(...).sample``). The experiment's CLI runs in
tests/experiments/test_scheduled_sampling_cli.py."""
from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq import char_lm
from jaxseq.data.charset import Charset
from jaxseq.models.char_lm import model as cr
from jaxseq.models.char_lm.ngram import CharNGram, real_word_fraction
from jaxseq.errors import DataError


# ------------------------------------------------------------------------------------- schedules
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
    (l_ss, m), g_ss = g(cr.ss_loss, has_aux=True)(params, {"tokens": tok}, jax.random.PRNGKey(3),
                                                 jnp.ones(3))
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
    b0 = {"tokens": tok}
    l0 = cr.ss_loss(params, b0, jax.random.PRNGKey(3), 0.0)[0]
    assert float(l0) != pytest.approx(float(cr.tf_loss(params, {"tokens": tok}, None)[0]), rel=1e-6)
    assert float(l0) == float(cr.ss_loss(params, b0, jax.random.PRNGKey(3), 0.0)[0])   # same key, same loss


def test_ss_loss_takes_eps_from_the_step(model):
    """The trainer hands the loss its step; eps comes from the schedule of that step, not the batch."""
    params, tok = model
    cfg = char_lm.SSConfig(steps=100, eps_min=0.0)      # linear: eps = 1 - step / 75, floored at 0
    eps = char_lm.eps_schedule(cfg)
    assert float(eps(0)) == 1.0 and float(eps(30)) == pytest.approx(0.6) and float(eps(99)) == 0.0
    loss = char_lm.make_ss_loss(eps)
    key, b = jax.random.PRNGKey(3), {"tokens": tok}
    step = jnp.asarray(30, jnp.int32)
    l, m = jax.jit(loss)(params, b, key, step)
    np.testing.assert_allclose(l, cr.ss_loss(params, b, key, eps(30))[0], rtol=1e-6)
    assert float(m["eps"]) == pytest.approx(0.6)
    np.testing.assert_allclose(loss(params, b, key, 0)[0], cr.tf_loss(params, b, key, 0)[0], rtol=1e-6)
    for kind in ("exponential", "inverse_sigmoid", "constant"):   # k = 0 picks a value from steps
        e = char_lm.eps_schedule(char_lm.SSConfig(steps=1000, schedule=kind, eps_min=0.5))
        assert 0.5 <= float(e(750)) <= 1.0 and float(e(0)) <= 1.0
    with pytest.raises(ValueError, match="unknown schedule"):
        char_lm.SSConfig(schedule="cosine")


def test_sample_shape_and_determinism(model):
    params, tok = model
    a = cr.sample(params, jax.random.PRNGKey(4), tok[:, :3], 12)
    b = cr.sample(params, jax.random.PRNGKey(4), tok[:, :3], 12)
    assert a.shape == (3, 12) and a.dtype == jnp.int32 and (a == b).all()
    assert int(a.min()) >= 0 and int(a.max()) < 11


def test_overfit_one_sequence():
    import optax
    text = "to be or not to be, that is the question. " * 3
    cs = Charset.build([text])
    tok = jnp.asarray(cs.encode(text)[None, :])
    params = cr.init(jax.random.PRNGKey(0), cr.CharRNNConfig(cs.size, 8, 32))
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
    assert cs.decode(cs.encode("be, that")) == "be, that"
    lm = char_lm.CharLM(params, cs, cr.CharRNNConfig(cs.size, 8, 32))   # the public API on it
    assert lm.bits_per_char(text) == pytest.approx(float(l) / math.log(2), rel=0.05)
    assert lm.sample("to be or not to b", length=12, temperature=0.01) == "e, that is t"


def test_ngram_normalised_and_hand_computed():
    lm = CharNGram("abab", order=2)
    for h in ("", "a", "b", "x"):
        assert sum(lm.prob(h, c) for c in lm.alphabet) == pytest.approx(1.0)
    # unigram add-one: a: 3/6, b: 3/6; context "a" was followed by b twice (1 type):
    # P(b|a) = (2 + 1 * 3/6) / (2 + 1) = 5/6
    assert lm.prob("a", "b") == pytest.approx(5 / 6)
    assert lm.bits_per_char("b", context="a") == pytest.approx(-math.log2(5 / 6))
    assert real_word_fraction("To be, or zzqx", {"to", "be", "or"}) == 0.75


# ------------------------------------------------------------------------------------ public API
def test_load_and_sample_roundtrip(model, tmp_path):
    from jaxseq.training.checkpoint import Checkpointer
    params, _ = model
    cs = Charset("abcdefghij")                                   # 10 characters + unknown = 11 ids
    mcfg = cr.CharRNNConfig(vocab=11, embed=5, hidden=7, layers=2)
    ck = Checkpointer(tmp_path / "ckpt_tf", keep=1)
    ck.save(3, params, meta={"charset": cs.to_json(), "model": {"vocab": 11, "embed": 5, "hidden": 7,
                                                                "layers": 2}})
    ck.close()
    lm = char_lm.load(tmp_path / "ckpt_tf")
    assert lm.config == mcfg and lm.charset.chars == cs.chars
    one = lm.sample("abc", length=7, seed=1)
    assert isinstance(one, str) and len(one) <= 7                 # the unknown id decodes to U+FFFD
    assert lm.sample("abc", length=7, seed=1) == one                # same seed, same text
    many = lm.sample(["abc", "j", "abc"], length=7, seed=1)
    assert len(many) == 3 and all(isinstance(t, str) for t in many)
    assert lm.sample(["abc", "j", "abc"], length=7, seed=1) == many
    assert lm.sample("abc", length=7, seed=2) != one or lm.sample("abc", length=7, seed=3) != one
    with pytest.raises(ValueError, match="at least one character"):
        lm.sample("", length=3)
    with pytest.raises(DataError, match="other is an unrecognised checkpoint, not a character LM one"):
        ck = Checkpointer(tmp_path / "other", keep=1)
        ck.save(1, params, meta={"something": 1})
        ck.close()
        char_lm.load(tmp_path / "other")
    for kw, what in ((dict(length=0), "length 0"), (dict(temperature=0.0), "temperature 0.0"),
                     (dict(temperature=float("inf")), "temperature inf")):
        with pytest.raises(ValueError, match=what):
            lm.sample("abc", **kw)


def test_another_familys_checkpoint_is_named():
    nmt = Path(__file__).resolve().parents[2] / "ckpt" / "nmt_luong" / "eng-fra"
    with pytest.raises(DataError, match=f"{nmt} is an NMT checkpoint, not a character LM one"):
        char_lm.load(nmt)


def test_config_refuses_bad_values():
    for field, bad in (("steps", -1), ("batch_size", 0), ("lr", -1.0), ("lr", 0.0), ("temperature", 0.0),
                       ("eps_min", 1.5), ("eval_every", 0)):
        with pytest.raises(ValueError, match=f"{field} = {bad}"):
            char_lm.SSConfig(**{field: bad})


def test_sample_defaults_are_the_experiments():
    import inspect
    sig = inspect.signature(char_lm.CharLM.sample).parameters
    cfg = char_lm.SSConfig()
    assert sig["length"].default == cfg.sample_len and sig["temperature"].default == cfg.temperature
