"""Word embeddings: the NCE and negative-sampling losses against float64 numpy (NCE as tf.nn.nce_loss
defines it), the samplers, finite-difference gradients, the corpus windows, a tiny overfit, neighbours and
PCA, and bad input."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_grad_close
from jaxseq.data.vocab import PAD_ID, SOS_ID, UNK_ID
from jaxseq.errors import DataError
from jaxseq.models import embeddings as E
from jaxseq.models.embeddings import corpus as wc
from jaxseq.models.embeddings import losses as L


def _softplus(x):
    return np.logaddexp(0.0, x)


def np_nce(w, b, h, y, sampled, q, k):
    """tf.nn.nce_loss (num_true=1, no accidental-hit removal, sampling with replacement): logits minus
    log(expected count k*Q), sigmoid cross-entropy summed over the true and the sampled columns."""
    out = []
    for i in range(len(y)):
        t = h[i] @ w[y[i]] + b[y[i]] - np.log(k * q[y[i]])
        s = np.array([h[i] @ w[j] + b[j] - np.log(k * q[j]) for j in sampled])
        out.append(-np.log(1 / (1 + np.exp(-t))) - np.sum(np.log(1 - 1 / (1 + np.exp(-s)))))
    return np.array(out)


def np_neg(w, h, y, negs):
    out = []
    for i in range(len(y)):
        pos = h[i] @ w[y[i]]
        neg = np.array([h[i] @ w[j] for j in negs[i]])
        out.append(-np.log(1 / (1 + np.exp(-pos))) - np.sum(np.log(1 / (1 + np.exp(neg)))))
    return np.array(out)


def _toy(seed=0, V=11, D=5, B=4, k=6):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(V, D)), rng.normal(size=V) * 0.3, rng.normal(size=(B, D)),
            rng.integers(0, V, B), rng.integers(0, V, k), rng.integers(0, V, (B, k)))


def test_sampler_probs():
    counts = np.array([0, 0, 0, 5, 100, 7, 50, 1])
    q = L.sampler_probs(counts, "log_uniform")
    assert q.sum() == pytest.approx(1.0, abs=1e-12)
    # rank by count: id 4 (100) is rank 0, id 6 rank 1, id 5 rank 2 ...
    n = 5                                     # words with a positive count; the rest are never drawn
    assert q[4] == pytest.approx(np.log(2) / np.log(n + 1))
    assert q[6] == pytest.approx(np.log(3 / 2) / np.log(n + 1))
    assert q[4] > q[6] > q[5] > q[3] > q[7] > 0 and q[0] == q[1] == q[2] == 0
    u = L.sampler_probs(counts, "unigram75")
    np.testing.assert_allclose(u, counts ** 0.75 / (counts ** 0.75).sum())
    with pytest.raises(ValueError, match="bogus"):
        L.sampler_probs(counts, "bogus")


def test_draw_follows_the_distribution():
    q = np.array([0.5, 0.0, 0.3, 0.2])
    s = np.asarray(L.draw(jax.random.PRNGKey(0), jnp.asarray(np.cumsum(q), jnp.float32), (40000,)))
    freq = np.bincount(s, minlength=4) / len(s)
    np.testing.assert_allclose(freq, q, atol=0.01)
    assert freq[1] == 0
    cdf = jnp.asarray(np.cumsum(q), jnp.float32)
    same = [np.asarray(L.draw(jax.random.PRNGKey(3), cdf, (50, 3), m)) for m in ("scan", "sort", "compare_all")]
    assert same[0].shape == (50, 3) and all((x == same[0]).all() for x in same)


def test_nce_matches_numpy():
    w, b, h, y, sampled, _ = _toy()
    q = L.sampler_probs(np.arange(len(b)) + 1.0, "log_uniform")
    k = len(sampled)
    got = L.nce(jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32), jnp.asarray(h, jnp.float32),
                jnp.asarray(y), jnp.asarray(sampled), jnp.asarray(np.log(k * q), jnp.float32))
    np.testing.assert_allclose(np.asarray(got), np_nce(w, b, h, y, sampled, q, k), rtol=1e-5)


def test_nce_through_the_model_uses_log_kq():
    """Noise builds log(k Q) of the sampler; the model's nce loss equals the reference with the same draw."""
    V, k = 9, 4
    cfg = E.EmbedModelConfig(V, "skipgram", 3)
    params = jax.tree_util.tree_map(np.asarray, E.init(jax.random.PRNGKey(1), cfg))
    params["bias"] = np.linspace(-1, 1, V).astype(np.float32)
    counts = np.arange(V) * 3 + 1
    noise = E.Noise(counts, "log_uniform", k)
    batch = {"x": np.array([[1], [2], [5]]), "y": np.array([3, 0, 8])}
    key = jax.random.PRNGKey(7)
    got = E.model.example_losses(params, cfg, batch, key, "nce", noise)
    sampled = np.asarray(L.draw(key, noise.cdf, (k,)))
    h = params["embed"][batch["x"][:, 0]].astype(np.float64)
    want = np_nce(params["out"].astype(np.float64), params["bias"].astype(np.float64), h, batch["y"], sampled,
                  L.sampler_probs(counts, "log_uniform"), k)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


def test_negative_sampling_matches_numpy():
    w, _, h, y, _, negs = _toy(1)
    got = L.negative_sampling(jnp.asarray(w, jnp.float32), jnp.asarray(h, jnp.float32), jnp.asarray(y),
                              jnp.asarray(negs))
    np.testing.assert_allclose(np.asarray(got), np_neg(w, h, y, negs), rtol=1e-5)


def test_softmax_nll_matches_numpy():
    w, b, h, y, _, _ = _toy(2)
    y = np.maximum(y, 2)
    logits = h @ w.T + b
    for skip in (0, 2):                       # the first `skip` ids are outside the softmax
        want = np.log(np.exp(logits[:, skip:]).sum(1)) - logits[np.arange(len(y)), y]
        got = L.softmax_nll(jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32),
                            jnp.asarray(h, jnp.float32), jnp.asarray(y), skip=skip)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


def test_loss_gradients_finite_differences(x64):
    w, b, h, y, sampled, negs = _toy(3)
    log_kq = np.log(len(sampled) * L.sampler_probs(np.arange(len(b)) + 1.0, "unigram75"))
    assert_grad_close(lambda w, b, h: L.nce(w, b, h, y, sampled, log_kq).sum(), (w, b, h))
    assert_grad_close(lambda w, h: L.negative_sampling(w, h, y, negs).sum(), (w, h))


def test_examples_windows():
    sents = [np.array([10, 11, 12]), np.array([13, UNK_ID, 14])]
    x, y = wc.examples("skipgram", sents, 1)
    pairs = set(zip(x[:, 0].tolist(), y.tolist()))
    assert pairs == {(10, 11), (11, 10), (11, 12), (12, 11)}          # no pair crosses a sentence, no <unk>
    x, y = wc.examples("ngram", sents, 2)
    assert y.tolist() == [10, 11, 12, 13, 14]
    assert x.tolist()[:3] == [[SOS_ID, SOS_ID], [SOS_ID, 10], [10, 11]]
    assert x.tolist()[4] == [13, UNK_ID]
    x, y = wc.examples("cbow", sents, 1)
    assert x.tolist()[0] == [PAD_ID, 11] and x.tolist()[1] == [10, 12]


def test_model_shapes_and_cbow_mask():
    for model in E.MODELS:
        cfg = E.EmbedModelConfig(20, model, 6, 2, hidden=7)
        p = E.init(jax.random.PRNGKey(0), cfg)
        x = jnp.ones((3, cfg.context), jnp.int32) * 5
        assert E.encode(p, cfg, x).shape == (3, cfg.out_dim)
    cfg = E.EmbedModelConfig(20, "cbow", 6, 2)
    p = E.init(jax.random.PRNGKey(0), cfg)
    a = E.encode(p, cfg, jnp.array([[PAD_ID, 4, 5, PAD_ID]]))
    np.testing.assert_allclose(a, (p["embed"][4] + p["embed"][5])[None] / 2, rtol=1e-6)


@pytest.mark.parametrize("kind", ["softmax", "nce", "neg"])
def test_tiny_overfit(kind):
    """Each word of a 12-word vocabulary always follows one other: every loss learns the pairs (the
    held-out yardstick, the full softmax, falls far below log V)."""
    import optax
    V = 12
    cfg = E.EmbedModelConfig(V, "skipgram", 8)
    x = np.arange(4, V)[:, None]
    y = (np.arange(4, V) - 4 + 1) % (V - 4) + 4
    noise = None if kind == "softmax" else E.Noise(np.r_[np.zeros(4), np.ones(V - 4)], "unigram75", 4)
    loss = E.make_loss(cfg, kind, noise)
    p = E.init(jax.random.PRNGKey(0), cfg)
    opt = optax.adam(0.05)
    st = opt.init(p)
    batch = {"x": jnp.asarray(x), "y": jnp.asarray(y)}

    @jax.jit
    def step(p, st, key):
        g = jax.grad(lambda p: loss(p, batch, key)[0])(p)
        u, st = opt.update(g, st)
        return optax.apply_updates(p, u), st
    for i in range(300):
        p, st = step(p, st, jax.random.PRNGKey(i))
    nll = float(E.model.heldout_nll(p, cfg, batch).mean())
    assert nll < 0.5 * np.log(V), nll


def test_nearest_and_pca():
    emb = np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [-1, 0, 0]])
    nb = E.nearest(emb, [0], 2)[0]
    assert [j for j, _ in nb] == [1, 2] and nb[0][1] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    pts = np.random.default_rng(0).normal(size=(50, 2)) * [5.0, 1.0]
    v = np.c_[pts, np.zeros(50)] @ np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    xy = E.pca_2d(v)
    assert xy.shape == (50, 2)
    assert xy[:, 0].var() == pytest.approx((pts[:, 0] - pts[:, 0].mean()).var(), rel=0.1)


def test_word_vectors_api():
    from jaxseq.data.vocab import Vocab
    wv = E.WordVectors(np.eye(6)[:, :4] + 0.1, Vocab(["<pad>", "<sos>", "<eos>", "<unk>", "a", "b"]))
    assert set(wv.neighbours(["a"], 1)) == {"a"}
    with pytest.raises(ValueError, match="'zebra'"):
        wv.neighbours(["a", "zebra"])
    with pytest.raises(ValueError, match="'<unk>'"):
        wv.vector("<unk>")


def test_empty_corpus(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("\n ... !\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty corpus") as e:
        wc.read_sentences("text", path=f)
    assert str(f) in str(e.value)
    with pytest.raises(DataError, match="empty corpus"):
        wc.build([], source="x")


def test_config_errors():
    with pytest.raises(ValueError, match="loss"):
        E.EmbedConfig(loss="hinge")
    with pytest.raises(ValueError, match="num_sampled"):
        E.EmbedConfig(num_sampled=0)


def test_real_corpora(data_dir):
    for corpus in ("shakespeare", "eng-fra"):
        sents, _ = wc.read_sentences(corpus, data_dir)
        c = wc.build(sents, 3)
        assert len(c.vocab) > 3000 and c.n_train_words > 150_000
        assert "king" in c.vocab.stoi or corpus == "eng-fra"


def test_shipped_vectors():
    """ckpt/embeddings/shakespeare (skip-gram, full softmax, float16) loads without data."""
    wv = E.load()
    assert wv.meta["corpus"] == "shakespeare" and wv.embed.shape[1] == 100
    assert wv.neighbours(["father"], 3)["father"][0][0] == "mother"
