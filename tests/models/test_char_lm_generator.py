"""The Shakespeare generator of the char_lm family: contiguous streams and windows, truncated BPTT with the
state carried across windows (equal to one long teacher-forced pass), exact resume, validation over whole
streams, greedy and temperature sampling, ``generate`` and its bad inputs, the shipped checkpoint. The
CLI runs in tests/experiments/test_char_lm_cli.py."""
from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq import char_lm
from jaxseq.data.charset import Charset
from jaxseq.errors import DataError
from jaxseq.models.char_lm import generator as gen
from jaxseq.models.char_lm import model as cr

SHIPPED = Path(__file__).resolve().parents[2] / "ckpt" / "char_lm" / "shakespeare"


@pytest.fixture(scope="module")
def model():
    cfg = cr.CharRNNConfig(vocab=11, embed=5, hidden=7, layers=2)
    return cr.init(jax.random.PRNGKey(0), cfg)


def test_streams_and_windows_are_contiguous():
    ids = np.arange(103)
    s = gen.make_streams(ids, 4)                       # 4 streams of 25, the 3-character tail dropped
    assert s.shape == (4, 25) and s[1, 0] == 25 and s[3, -1] == 99
    assert gen.windows_per_pass(s, 6) == 4             # (25 - 1) // 6
    w0, k0 = gen.window(s, 0, 6)
    w1, k1 = gen.window(s, 1, 6)
    assert w0.shape == (4, 7) and (w0[:, -1] == w1[:, 0]).all()   # the next window starts where one ends
    assert (k0 == 0).all() and (k1 == 1).all()
    w4, k4 = gen.window(s, 4, 6)                        # a new pass: back to the start, state reset
    assert (w4 == w0).all() and (k4 == 0).all()
    with pytest.raises(DataError, match="3 characters cannot fill 2 streams"):
        gen.make_streams(np.arange(3), 2)


def test_carried_windows_equal_one_long_pass(model):
    """TBPTT forward: window 1 from zeros, window 2 from window 1's final state = one unbroken pass."""
    params = model
    tok = jax.random.randint(jax.random.PRNGKey(1), (3, 13), 0, 11)   # 12 predictions = 2 windows of 6
    zero = cr.zeros(params, 3)
    b1 = {"tokens": tok[:, :7], "carry": zero, "keep": jnp.zeros(3)}
    l1, m1 = cr.stream_loss(params, b1, None)
    b2 = {"tokens": tok[:, 6:], "carry": m1["carry"], "keep": jnp.ones(3)}
    l2, _ = cr.stream_loss(params, b2, None)
    full = cr.tf_loss(params, {"tokens": tok}, None)[0]
    np.testing.assert_allclose((l1 + l2) / 2, full, rtol=1e-5)
    np.testing.assert_allclose(gen.stream_nll(params, tok), full, rtol=1e-5)
    # keep = 0 resets whatever state comes in; without the carry the second window differs
    l2_reset = cr.stream_loss(params, dict(b2, keep=jnp.zeros(3)), None)[0]
    np.testing.assert_allclose(l2_reset, cr.tf_loss(params, {"tokens": tok[:, 6:]}, None)[0], rtol=1e-5)
    assert abs(float(l2_reset) - float(l2)) > 1e-4


def test_gradient_stops_at_the_window_start(model):
    params = model
    tok = jax.random.randint(jax.random.PRNGKey(2), (2, 8), 0, 11)
    carry = [(jnp.full((2, 7), 0.3), jnp.full((2, 7), -0.2))] * 2
    g = jax.grad(lambda c: cr.stream_loss(params, {"tokens": tok, "carry": c, "keep": jnp.ones(2)},
                                          None)[0])(carry)
    assert all(float(jnp.abs(a).max()) == 0.0 for a in jax.tree_util.tree_leaves(g))
    # dropout: needs a key, changes the loss, same key same loss; no key = evaluation
    b = {"tokens": tok, "carry": carry, "keep": jnp.ones(2)}
    k = jax.random.PRNGKey(3)
    ld = cr.stream_loss(params, b, k, dropout=0.5)[0]
    assert float(ld) == float(cr.stream_loss(params, b, k, dropout=0.5)[0])
    assert float(ld) != pytest.approx(float(cr.stream_loss(params, b, None, dropout=0.5)[0]), rel=1e-6)


def test_greedy_and_temperature_sampling(model):
    params = model
    prefix = jnp.asarray([[1, 2, 3], [4, 5, 6]])
    g1 = cr.sample_jit(params, jax.random.PRNGKey(0), prefix, 9, jnp.float32(0.0))
    g2 = cr.sample_jit(params, jax.random.PRNGKey(1), prefix, 9, jnp.float32(0.0))
    assert g1.shape == (2, 9) and (g1 == g2).all()       # greedy ignores the key
    # greedy = the argmax of each step, fed back
    c, logits = jax.lax.scan(lambda c, t: cr.step(params, c, t), cr.zeros(params, 2), prefix.T)
    c, logits = c, logits[-1]
    for t in range(9):
        tok = jnp.argmax(logits, -1)
        assert (tok == g1[:, t]).all()
        c, logits = cr.step(params, c, tok)
    hot = cr.sample_jit(params, jax.random.PRNGKey(0), prefix, 9, jnp.float32(1.0))
    assert (hot == cr.sample_jit(params, jax.random.PRNGKey(0), prefix, 9, jnp.float32(1.0))).all()
    mixed = cr.sample_jit(params, jax.random.PRNGKey(5), prefix, 9, jnp.asarray([0.0, 1.0]))
    assert (mixed[0] == g1[0]).all()                     # per-row temperatures: row 0 greedy


def test_generate_and_its_bad_inputs(model):
    cs = Charset("abcdefghij")
    lm = char_lm.CharLM(model, cs, cr.CharRNNConfig(vocab=11, embed=5, hidden=7, layers=2))
    out = lm.generate("abc", n=3, length=8, temperature=0.8, seed=1)
    assert len(out) == 3 and all(t.startswith("abc") and len(t) <= 11 for t in out)
    assert lm.generate("abc", n=3, length=8, temperature=0.8, seed=1) == out
    greedy = lm.generate("abc", n=2, length=8, temperature=0)
    assert greedy[0] == greedy[1]
    hot = "".join(lm.generate("abc", n=8, length=40, temperature=3.0))   # never the unknown symbol
    assert "\ufffd" not in hot and len(hot) == 8 * 43
    for kw, what in ((dict(prime="abz"), "characters 'z' are not in the model's vocabulary"),
                     (dict(prime=""), "give at least one character"), (dict(n=0), "n 0"),
                     (dict(length=0), "length 0"), (dict(temperature=-1.0), "temperature -1.0"),
                     (dict(temperature=float("nan")), "temperature nan")):
        with pytest.raises(ValueError, match=what):
            lm.generate(**{"prime": "abc", **kw})


def test_config_and_corpus_checks():
    for field, bad in (("steps", 0), ("seq_len", 0), ("dropout", 1.0), ("lr", 0.0), ("val_streams", 0)):
        with pytest.raises(ValueError, match=f"{field} = {bad}"):
            gen.GenConfig(**{field: bad})
    cfg = gen.GenConfig(batch_size=4, seq_len=10, val_streams=2)
    with pytest.raises(DataError, match="play.txt: the training part holds 40 characters"):
        gen.check_corpus(cfg, np.arange(40), np.arange(100), "play.txt")
    with pytest.raises(DataError, match="validation part"):
        gen.check_corpus(cfg, np.arange(400), np.arange(3), "play.txt")
    with pytest.raises(DataError, match="'no_such_model': not a directory and not a shipped name"):
        char_lm.load("no_such_model")


TINY = dict(batch_size=4, seq_len=16, embed=8, hidden=32, layers=1, dropout=0.0, lr=3e-2, warmup=0,
            eval_every=30, val_streams=2, unroll=1, log_every=10)


def _corpus():
    text = "to be or not to be, that is the question. " * 40
    cs = Charset.build([text])
    ids = cs.encode(text)
    return ids[:1400], ids[1400:], cs


def test_tiny_run_learns_and_resumes_exactly(tmp_path):
    tr, va, cs = _corpus()
    cfg = gen.GenConfig(steps=60, **TINY)
    p_full, hist = gen.train(cfg, tr, va, cs, tmp_path / "full", progress=False)
    vals = [h["val_bits_per_char"] for h in hist if "val_bits_per_char" in h]
    assert [h["step"] for h in hist if "val_bits_per_char" in h] == [30, 60]
    assert vals[-1] < 1.5, vals                         # a repeated sentence: from 4.4 bits to almost 0
    _, cut = gen.train(cfg, tr, va, cs, tmp_path / "two", progress=False, time_budget_s=1e-3)
    assert cut.stopped == "time_budget" and cut.step == 1     # saved after the first step
    p_two, hist2 = gen.train(cfg, tr, va, cs, tmp_path / "two", progress=False)   # resumed at 1
    assert hist2.step == 60
    for a, b in zip(jax.tree_util.tree_leaves(p_full), jax.tree_util.tree_leaves(p_two)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)   # the carry was saved: same run
    lm = char_lm.load(tmp_path / "full")
    assert lm.meta["task"] == "generator" and lm.meta["step"] == 60
    greedy = lm.generate("to be or", length=20, temperature=0)[0]
    assert greedy.startswith("to be or") and len(greedy) == 28 and "the" in greedy   # learnt words
    assert gen.bits_per_char(lm.params, va, 2) == pytest.approx(vals[-1], rel=1e-4)
    with pytest.raises(DataError, match="cannot resume"):
        gen.train(gen.GenConfig(steps=60, **dict(TINY, hidden=16)), tr, va, cs, tmp_path / "full",
                  progress=False)


@pytest.mark.skipif(not SHIPPED.is_dir(), reason="ckpt/char_lm/shakespeare not shipped in this checkout")
def test_shipped_checkpoint_is_small_and_generates():
    size = sum(f.stat().st_size for f in SHIPPED.rglob("*") if f.is_file())
    assert size < 3e6, size
    lm = char_lm.load()                                   # the default name, from any directory
    texts = lm.generate("ROMEO:", n=2, length=60, temperature=0.8, seed=0)
    assert all(t.startswith("ROMEO:") and len(t) == 66 for t in texts)
    assert lm.meta["task"] == "generator" and math.isfinite(lm.meta["metrics"]["val_bits_per_char"])
