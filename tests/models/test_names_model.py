"""Name models: shapes, the ReLU RNN classifier and the conditional generator against float64 numpy
references (masks and teacher forcing included), finite-difference gradients, padding invariance, a
tiny overfit, and the jitted sampler (forced start letters, the end symbol, temperature, seeds)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_grad_close, random_params
from jaxseq.data import names as nd
from jaxseq.models.names import model as nm
from jaxseq.models.names import training as nt

NAMES = ["Abel", "Nowak", "Li", "O'Neil", "Schmidt", "Tanaka"]
LANGS = np.array([0, 2, 1, 3, 0, 1], np.int32)


def batch(names=NAMES, labels=LANGS, T=8):
    ids, lengths = nd.pad_ids(names, T)
    return {"ids": ids, "lengths": lengths, "labels": labels}


def f64(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)


def np_logsoftmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def np_classifier_nll(p, b):
    """The tutorial's loop, one name at a time: h = relu(x W_x + b + h W_h) over the real letters."""
    p = f64(p)
    out = []
    for ids, n, y in zip(b["ids"], b["lengths"], b["labels"]):
        h = np.zeros(p["rnn"]["wh"].shape[0])
        for t in range(n):
            x = np.eye(57)[ids[t] - 1]
            h = np.maximum(0.0, x @ p["rnn"]["wx"] + p["rnn"]["b"] + h @ p["rnn"]["wh"])
        out.append(-np_logsoftmax(h @ p["out"]["w"] + p["out"]["b"])[y])
    return np.array(out)


def np_generator_nll(p, b, n_lang):
    """Start, then each letter, as input (with the language one-hot); letters, then end, as targets."""
    p = f64(p)
    rnn = p["rnn"][0]
    out = []
    for ids, n, lang in zip(b["ids"], b["lengths"], b["labels"]):
        seq = [0] + list(ids[:n])
        tgt = list(ids[:n]) + [0]
        h, tot = np.zeros(rnn["wh"].shape[0]), 0.0
        for tok, y in zip(seq, tgt):
            x = np.concatenate([np.eye(58)[tok], np.eye(n_lang)[lang]])
            h = np.maximum(0.0, x @ rnn["wx"] + rnn["b"] + h @ rnn["wh"])
            tot -= np_logsoftmax(h @ p["out"]["w"] + p["out"]["b"])[y]
        out.append(tot)
    return np.array(out)


@pytest.mark.parametrize("cell", nm.CELL_NAMES)
def test_shapes(cell):
    b = batch()
    c = nm.ClassifierConfig(cell, 16, 4)
    logp = jax.jit(nm.classify, static_argnums=1)(random_params(nm.classifier_init, c), c, b["ids"], b["lengths"])
    assert logp.shape == (6, 4) and np.allclose(np.exp(logp).sum(-1), 1, atol=1e-5)
    g = nm.GeneratorConfig(cell, 16, 2, True, 0.0, 4)
    gp = random_params(nm.generator_init, g, scale=0.1)
    nll, n = jax.jit(nm.name_nll, static_argnums=1)(gp, g, b["ids"], b["lengths"], b["labels"])
    assert nll.shape == (6,) and n.tolist() == [len(x) + 1 for x in NAMES] and (nll > 0).all()


def test_classifier_matches_numpy_and_ignores_padding():
    c = nm.ClassifierConfig("rnn_relu", 12, 4)
    p = random_params(nm.classifier_init, c, scale=0.4)
    b = batch()
    loss_fn = jax.jit(lambda p, b: nm.classifier_loss(p, b, None, 0, c))
    loss, m = loss_fn(p, b)
    ref = np_classifier_nll(p, b)
    np.testing.assert_allclose(float(loss), ref.mean(), rtol=1e-5)
    wide = batch(T=19)   # more padding, same names: same answer
    classify = jax.jit(nm.classify, static_argnums=1)
    np.testing.assert_allclose(classify(p, c, wide["ids"], wide["lengths"]),
                               classify(p, c, b["ids"], b["lengths"]), atol=1e-6)
    w = dict(b, weight=np.array([1, 1, 1, 0, 0, 0], np.float32))   # weight-0 rows are left out
    np.testing.assert_allclose(float(loss_fn(p, w)[0]), ref[:3].mean(), rtol=1e-5)
    c4 = nm.ClassifierConfig("rnn_relu", 12, 4, unroll=4)   # the scan unroll is a speed knob only
    np.testing.assert_allclose(float(nm.classifier_loss(p, b, None, 0, c4)[0]), ref.mean(), rtol=1e-5)


def test_generator_matches_numpy():
    g = nm.GeneratorConfig("rnn_relu", 10, 1, True, 0.0, 4)
    p = random_params(nm.generator_init, g, scale=0.3)
    b = batch()
    name_nll = jax.jit(nm.name_nll, static_argnums=1)
    nll, n = name_nll(p, g, b["ids"], b["lengths"], b["labels"])
    np.testing.assert_allclose(nll, np_generator_nll(p, b, 4), rtol=1e-5)
    loss, m = jax.jit(lambda p: nm.generator_loss(p, b, None, 0, g))(p)
    np.testing.assert_allclose(float(loss), float(nll.sum() / n.sum()), rtol=1e-6)
    u = nm.GeneratorConfig("gru", 10, 1, False, 0.0, 4)   # unconditional: the language changes nothing
    up = random_params(nm.generator_init, u, scale=0.3)
    a = name_nll(up, u, b["ids"], b["lengths"], b["labels"])[0]
    np.testing.assert_allclose(a, name_nll(up, u, b["ids"], b["lengths"], b["labels"] * 0)[0])


def test_gradients_match_finite_differences(x64):
    c = nm.ClassifierConfig("rnn_relu", 6, 3)
    b = batch(NAMES[:3], LANGS[:3] % 3, T=6)
    p = f64(random_params(nm.classifier_init, c, scale=0.5))
    assert_grad_close(lambda q: nm.classifier_loss(q, b, None, 0, c)[0], (p,), rtol=1e-5, atol=1e-8)
    g = nm.GeneratorConfig("lstm", 5, 1, True, 0.0, 4)
    gp = f64(random_params(nm.generator_init, g, scale=0.5))
    assert_grad_close(lambda q: nm.generator_loss(q, b, None, 0, g)[0], (gp,), n_dirs=2, rtol=1e-5, atol=1e-8)


def test_tiny_overfit():
    from jaxseq.training.loop import TrainConfig, fit
    b = batch()
    c = nm.ClassifierConfig("gru", 32, 4)
    cfg = TrainConfig(steps=120, lr=2e-2, log_every=20, progress=False)
    p, hist = fit(nt.loss_fn("classifier", c), random_params(nm.classifier_init, c, scale=0.1), lambda s: b, cfg)
    assert hist[-1]["accuracy"] == 1.0 and hist[-1]["loss"] < 0.05
    g = nm.GeneratorConfig("gru", 32, 1, True, 0.0, 4)
    p, hist = fit(nt.loss_fn("generator", g), random_params(nm.generator_init, g, scale=0.1), lambda s: b, cfg)
    assert hist[-1]["loss"] < 0.3 < 2.0 < hist[0]["loss"]   # nats per letter (ln 58 = 4.06 at step 0)


def test_sampling_forces_the_start_and_ends():
    g = nm.GeneratorConfig("gru", 16, 1, True, 0.0, 4)
    p = random_params(nm.generator_init, g)
    prefix, plen = nd.pad_ids(["R", "Mac", "", "Z"], 11)
    langs = jnp.array([0, 1, 2, 3])
    run = jax.jit(nm.sample, static_argnums=(1, 6))
    out = np.asarray(run(p, g, jax.random.PRNGKey(1), langs, prefix, plen, 10, 1.0))
    assert out.shape == (4, 11)
    assert nd.decode(out[0][:1]) == "R" and nd.decode(out[1][:3]) == "Mac" and nd.decode(out[3][:1]) == "Z"
    for row in out:   # after the first end only end/padding ids
        stop = np.flatnonzero(row == nm.END)
        if len(stop):
            assert (row[stop[0]:] == nm.END).all()
    same = np.asarray(run(p, g, jax.random.PRNGKey(1), langs, prefix, plen, 10, 1.0))
    np.testing.assert_array_equal(out, same)
    cold = [np.asarray(run(p, g, jax.random.PRNGKey(k), langs, prefix, plen, 10, 1e-3)) for k in (2, 3)]
    np.testing.assert_array_equal(cold[0], cold[1])   # temperature -> 0: the argmax, whatever the seed


def test_balanced_batches_draw_languages_uniformly():
    by_lang = [np.arange(0, 900), np.arange(900, 990), np.arange(990, 1000), np.array([], int)]
    idx = np.concatenate([nt.balanced_indices(by_lang, s, 300, seed=1) for s in range(10)])
    lang = np.searchsorted([900, 990, 1000], idx, side="right")
    counts = np.bincount(lang, minlength=4)
    assert counts[3] == 0 and (abs(counts[:3] - 1000) < 120).all()   # the empty language is skipped
    np.testing.assert_array_equal(nt.balanced_indices(by_lang, 4, 8, seed=1), nt.balanced_indices(by_lang, 4, 8, 1))
