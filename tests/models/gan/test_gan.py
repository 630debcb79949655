"""MLP GAN / CGAN / InfoGAN: shapes, the BCE and mutual-information losses against float64 numpy
references, a few alternating steps doing what they should, determinism, exact resume, the generator
export and the sampling API."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.data.batching import batch_indices
from jaxseq.models.gan import api, model as gm, training as gt


def _cfg(kind, **kw):
    return gm.GANConfig(kind=kind, z_dim=kw.pop("z_dim", 6), hidden=kw.pop("hidden", 16), **kw)


@pytest.mark.parametrize("kind", gm.KINDS)
def test_shapes(kind):
    cfg = _cfg(kind, n_cont=2 if kind == "infogan" else 0)
    p = gm.init(jax.random.PRNGKey(0), cfg)
    assert p["g"][0]["w"].shape == (6 + cfg.code_dim, 16) and p["g"][1]["w"].shape == (16, 784)
    assert p["d"]["body"]["w"].shape == (784 + (10 if kind == "cgan" else 0), 16)
    lat = gm.sample_latent(jax.random.PRNGKey(1), 5, cfg, jnp.arange(5) if kind != "gan" else None)
    assert lat["z"].shape == (5, 6) and float(jnp.abs(lat["z"]).max()) <= 1.0   # U(-1, 1)
    x = gm.generate(p["g"], lat, cfg)
    assert x.shape == (5, 784) and float(x.min()) >= 0 and float(x.max()) <= 1
    logits, q = gm.discriminate(p["d"], x, cfg, lat.get("y"))
    assert logits.shape == (5,)
    dropped, _ = gm.discriminate(p["d"], x, cfg, lat.get("y"), key=jax.random.PRNGKey(2), dropout=0.5)
    assert dropped.shape == (5,) and not np.allclose(dropped, logits)
    if kind == "infogan":
        assert q[0].shape == (5, 10) and q[1].shape == (5, 2) and lat["cont"].shape == (5, 2)
    else:
        assert q is None


def test_glorot_init_scale():
    p = gm.init(jax.random.PRNGKey(0), gm.GANConfig())        # the 100-128-784 / 784-128-1
    w = np.asarray(p["g"][1]["w"])
    bound = math.sqrt(6.0 / (128 + 784))
    assert w.shape == (128, 784) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert p["d"]["head"]["w"].shape == (128, 1) and not np.any(np.asarray(p["g"][0]["b"]))


def _bce_ref(logits, target):
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    return -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))


def test_bce_losses_against_numpy_float64():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 3, 64).astype(np.float32), rng.normal(0, 3, 64).astype(np.float32)
    d = float(gm.d_loss(jnp.asarray(real), jnp.asarray(fake)))
    assert d == pytest.approx(_bce_ref(real, 1.0) + _bce_ref(fake, 0.0), rel=1e-5)
    assert float(gm.g_loss(jnp.asarray(fake))) == pytest.approx(_bce_ref(fake, 1.0), rel=1e-5)
    # stable for saturated logits: the naive log(sigmoid) would give inf / nan here
    big = jnp.asarray([80.0, -80.0])
    assert float(gm.d_loss(big, -big)) == pytest.approx(np.mean([0.0, 80.0]) * 2, rel=1e-4)
    assert np.isfinite(float(gm.g_loss(jnp.asarray([-200.0])))) and float(gm.g_loss(jnp.asarray([-200.0]))) == \
        pytest.approx(200.0)
    g = jax.grad(gm.d_loss, (0, 1))(jnp.asarray(real), jnp.asarray(fake))   # dBCE/dl = sigmoid(l) - target
    sig = lambda v: 1 / (1 + np.exp(-v.astype(np.float64)))   # noqa: E731
    np.testing.assert_allclose(g[0], (sig(real) - 1) / 64, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(g[1], sig(fake) / 64, rtol=1e-5, atol=1e-8)


def test_mi_terms_against_numpy_float64():
    rng = np.random.default_rng(1)
    logits, mean = rng.normal(0, 2, (32, 10)), rng.normal(0, 1, (32, 3))
    cat, cont = rng.integers(0, 10, 32), rng.uniform(-1, 1, (32, 3))
    ce, gauss = gm.mi_terms((jnp.asarray(logits, jnp.float32), jnp.asarray(mean, jnp.float32)),
                            jnp.asarray(cat), jnp.asarray(cont, jnp.float32))
    lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    ce_ref = np.mean(lse - logits[np.arange(32), cat])
    nll_ref = np.mean(np.sum(0.5 * np.log(2 * np.pi) + 0.5 * (cont - mean) ** 2, 1))  # N(c; mu, 1)
    assert float(ce) == pytest.approx(ce_ref, rel=1e-5)
    assert float(gauss) == pytest.approx(nll_ref, rel=1e-5)
    total = gm.mi_loss((jnp.asarray(logits, jnp.float32), jnp.asarray(mean, jnp.float32)), jnp.asarray(cat),
                       jnp.asarray(cont, jnp.float32), lam_cat=1.0, lam_cont=0.5)
    assert float(total) == pytest.approx(ce_ref + 0.5 * nll_ref, rel=1e-5)


def _batch(n=32, seed=0):
    """A fixed batch for the step tests: two kinds of synthetic strokes (a mechanics check, not data)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28), np.float32)
    y = rng.integers(0, 2, n)
    for i, c in enumerate(y):
        if c:
            x[i, 4:24, 12:16] = 1.0
        else:
            x[i, 12:16, 4:24] = 1.0
    return jnp.asarray(x.reshape(n, 784)), jnp.asarray(y, jnp.int32)


import functools


@functools.lru_cache(maxsize=None)
def _jitted_step(kind):
    cfg = gt.GANTrainConfig(model=kind, hidden=32, z_dim=8, lr=1e-3)
    mcfg, opt = gt.model_config(cfg), gt.optimizer(cfg)
    return mcfg, opt, jax.jit(lambda p, o, x, y, k: gt.train_step(p, o, x, y, k, mcfg=mcfg, opt=opt))


def _run_steps(kind, n_steps, key=0):
    mcfg, opt, step = _jitted_step(kind)
    params = gm.init(jax.random.PRNGKey(key), mcfg)
    state = {"g": opt.init(params["g"]), "d": opt.init(params["d"])}
    x, y = _batch()
    hist = []
    for i in range(n_steps):
        params, state, m = step(params, state, x, y, jax.random.PRNGKey(100 * key + i))
        hist.append({k: float(v) for k, v in m.items()})
    return params, hist


def test_alternating_steps_train_the_discriminator():
    _, hist = _run_steps("gan", 40)
    first, last = np.mean([h["d_loss"] for h in hist[:5]]), np.mean([h["d_loss"] for h in hist[-5:]])
    assert last < first - 0.3                                      # D separates real from fake
    assert hist[-1]["d_real"] > hist[-1]["d_fake"]
    assert all(np.isfinite(v) for h in hist for v in h.values())


def test_mi_term_trains_generator_and_q_head():
    """Descending the MI loss alone moves G and the Q head (through the shared body) and makes the codes
    recoverable from the images: the categorical cross-entropy falls from ~log 10."""
    import optax
    cfg = _cfg("infogan", n_cont=2)
    params = gm.init(jax.random.PRNGKey(0), cfg)
    lat = gm.sample_latent(jax.random.PRNGKey(1), 64, cfg)

    def loss(p):
        _, q = gm.discriminate(p["d"], gm.generate(p["g"], lat, cfg), cfg)
        return gm.mi_loss(q, lat["cat"], lat["cont"])

    grads = jax.grad(loss)(params)
    for part in (grads["g"][0]["w"], grads["d"]["q"]["w"], grads["d"]["body"]["w"]):
        assert float(jnp.abs(part).max()) > 0
    assert not np.any(np.asarray(grads["d"]["head"]["w"]))          # the real/fake head takes no part
    opt = optax.adam(1e-2)

    @jax.jit
    def step(p, o):
        v, g = jax.value_and_grad(loss)(p)
        u, o = opt.update(g, o, p)
        return optax.apply_updates(p, u), o, v
    o, vals = opt.init(params), []
    for _ in range(40):
        params, o, v = step(params, o)
        vals.append(float(v))
    # at init Q knows nothing: ce ~ log 10, plus the unit Gaussian's NLL of U(-1, 1) codes (~1.09 each)
    assert vals[0] == pytest.approx(math.log(10) + 2 * (0.5 * math.log(2 * math.pi) + 1 / 6), abs=0.6)
    assert vals[-1] < vals[0] - 0.3


def test_same_key_same_result_other_key_other_result():
    a, _ = _run_steps("gan", 3, key=0)
    b, _ = _run_steps("gan", 3, key=0)
    c, _ = _run_steps("gan", 3, key=1)
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a["g"][1]["w"], c["g"][1]["w"])


def test_chunk_indices_are_batch_indices():
    got = gt.chunk_indices(5, 9, 100, 16, seed=3)           # crosses an epoch boundary (6 batches/epoch)
    want = np.stack([batch_indices(s, 100, 16, 3, shard=(0, 1)) for s in range(5, 14)])
    np.testing.assert_array_equal(got, want)


def _images(n=128, seed=0):
    x, y = _batch(n, seed)
    return (np.asarray(x) * 255).astype(np.uint8), np.asarray(y)


@pytest.mark.slow  # compile-heavy; test_gan_cli covers train/export/sample by default
def test_resume_is_exact_and_export_samples(tmp_path):
    x, y = _images()
    kw = dict(model="gan", hidden=8, z_dim=4, batch_size=32, chunk=4, progress=False)
    # 8 steps straight vs 4 steps, then the same run extended to 8 (a resume)
    full, hist, done, steps = gt.train(gt.GANTrainConfig(epochs=2, **kw), x, y, tmp_path / "a")
    assert (done, steps) == (8, 8) and [h["step"] for h in hist] == [4, 8]
    gt.train(gt.GANTrainConfig(epochs=1, **kw), x, y, tmp_path / "b")
    resumed, hist_b, _, _ = gt.train(gt.GANTrainConfig(epochs=2, **kw), x, y, tmp_path / "b")
    assert [h["step"] for h in hist_b] == [8]
    for u, v in zip(jax.tree_util.tree_leaves(full), jax.tree_util.tree_leaves(resumed)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    # a resume may not change the model
    from jaxseq.errors import DataError
    with pytest.raises(DataError, match="hidden"):
        gt.train(gt.GANTrainConfig(epochs=3, **{**kw, "hidden": 9}), x, y, tmp_path / "b")
    # generator-only export, loaded by the API
    assert gt.export_generator(tmp_path / "a", tmp_path / "gen", dtype="float16") == 8
    m = api.load(tmp_path / "gen")
    assert m.kind == "gan" and set(m.meta) >= {"gan", "param_dtype"}
    np.testing.assert_allclose(m.g[1]["w"], full["g"][1]["w"], atol=2e-3)
    s = m.sample(7, key=jax.random.PRNGKey(0))
    assert s.shape == (7, 28, 28) and s.dtype == np.float32 and 0 <= s.min() and s.max() <= 1
    np.testing.assert_array_equal(s, m.sample(7, key=0))                 # int seed = PRNGKey(seed)
    with pytest.raises(DataError, match="already holds"):
        gt.export_generator(tmp_path / "a", tmp_path / "gen")


def test_api_infogan_codes():
    cfg = _cfg("infogan", n_cont=2)
    m = api.GAN(gm.init(jax.random.PRNGKey(0), cfg), cfg)
    t = m.traverse(1, cols=5, rows=2)
    assert t.shape == (10, 28, 28) and not np.allclose(t[0], t[4])     # the code moves the image
    assert m.class_grid(3).shape == (30, 28, 28)
    a, b = m.sample(2, key=0, labels=3, cont=[0.5, -0.5]), m.sample(2, key=0, labels=3, cont=[0.5, -0.5])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="0..9"):
        m.sample(2, labels=10)
    with pytest.raises(ValueError, match="index 2"):
        m.traverse(2)


def test_api_errors(tmp_path):
    from jaxseq.errors import DataError
    with pytest.raises(DataError, match="no GAN checkpoint"):
        api.load(tmp_path / "missing")
    m = api.GAN(gm.init(jax.random.PRNGKey(0), _cfg("gan")), _cfg("gan"))
    with pytest.raises(ValueError, match="unconditional"):
        m.sample(2, labels=1)
    with pytest.raises(ValueError, match="infogan"):
        m.traverse(0)
    assert m.sample(3).shape == (3, 28, 28)


def test_shipped_cgan_draws_the_asked_classes(tmp_path, monkeypatch):
    """``load("cgan")`` finds ckpt/gan/cgan from any working directory; the shipped classifier takes most
    of its trouser and sneaker samples for trousers and sneakers (98.7% and 91.8% on 1,000 each)."""
    if not api.SHIPPED.joinpath("cgan").is_dir():
        pytest.skip("no shipped CGAN in ckpt/gan/cgan")
    monkeypatch.chdir(tmp_path)
    m = api.load("cgan")
    assert m.kind == "cgan" and m.meta["param_dtype"] == "float16"
    x = m.sample(64, key=0, labels=np.repeat([1, 7], 32))
    assert x.shape == (64, 28, 28) and x.dtype == np.float32
    from jaxseq.models.cnn import frechet
    pred = np.asarray(frechet.classify(x))
    assert (pred[:32] == 1).mean() > 0.8 and (pred[32:] == 7).mean() > 0.6
