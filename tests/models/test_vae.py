"""VAE/CVAE bounds against float64 numpy references, KL closed form vs Monte Carlo, IWAE properties, the
Glorot init of the shared MLP layers, and the public API (``vae.load(...).sample``). The IDX loader is
tested in tests/data/test_mnist.py, the experiment's CLI in tests/experiments/test_vae_cli.py."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq import vae as api
from jaxseq.models.vae import model as vae

CFG = vae.VAEConfig(x_dim=12, hidden=(9,), z_dim=3)


def _np_mlp(layers, x):
    for i, l in enumerate(layers):
        x = x @ np.asarray(l["w"], np.float64) + np.asarray(l["b"], np.float64)
        if i < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x


def _np_elbo(params, x, eps, n_classes=0, y=None):
    """float64 reference of the one-sample ELBO given the standard-normal noise ``eps``."""
    cond = lambda a: a if not n_classes else np.concatenate([a, np.eye(n_classes)[y]], -1)
    h = _np_mlp(params["enc"], cond(x))
    mu, logvar = np.split(h, 2, -1)
    z = mu + np.exp(0.5 * logvar) * eps
    logits = _np_mlp(params["dec"], cond(z))
    log_sig = lambda a: -np.logaddexp(0.0, -a)
    recon = (x * log_sig(logits) + (1 - x) * log_sig(-logits)).sum(-1)
    kl = 0.5 * (np.exp(logvar) + mu ** 2 - 1 - logvar).sum(-1)
    return recon - kl


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return (rng.random((5, 12)) < 0.4).astype(np.float32), rng.integers(0, 4, 5)


@pytest.mark.parametrize("n_classes", [0, 4])
def test_elbo_matches_numpy(batch, n_classes):
    x, y = batch
    cfg = vae.VAEConfig(12, (9,), 3, n_classes)
    params = vae.init(jax.random.PRNGKey(1), cfg)
    key = jax.random.PRNGKey(2)
    out = vae.elbo(params, jnp.asarray(x), key, jnp.asarray(y) if n_classes else None,
                   n_classes=n_classes)
    eps = np.asarray(jax.random.normal(key, (5, 3)), np.float64)  # the noise elbo draws from key
    ref = _np_elbo(params, x.astype(np.float64), eps, n_classes, y)
    np.testing.assert_allclose(np.asarray(out["elbo"]), ref, rtol=1e-5, atol=1e-4)


def test_kl_closed_form_vs_monte_carlo():
    rng = np.random.default_rng(3)
    mu, logvar = rng.normal(size=(2, 4)), rng.normal(scale=0.5, size=(2, 4))
    kl = np.asarray(vae.kl_standard_normal(jnp.asarray(mu, jnp.float32), jnp.asarray(logvar, jnp.float32)))
    z = mu + np.exp(0.5 * logvar) * rng.normal(size=(200_000, 2, 4))
    logq = -0.5 * (np.log(2 * np.pi) + logvar + (z - mu) ** 2 / np.exp(logvar)).sum(-1)
    logp = -0.5 * (np.log(2 * np.pi) + z ** 2).sum(-1)
    mc = (logq - logp).mean(0)
    se = (logq - logp).std(0) / math.sqrt(len(z))
    assert np.all(np.abs(kl - mc) < 5 * se + 1e-3), (kl, mc, se)


def test_bernoulli_log_prob_matches_numpy():
    rng = np.random.default_rng(4)
    logits, x = rng.normal(size=(6, 7)) * 3, (rng.random((6, 7)) < 0.5).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    ref = (x * np.log(p) + (1 - x) * np.log(1 - p)).sum(-1)
    np.testing.assert_allclose(vae.bernoulli_log_prob(jnp.asarray(logits, jnp.float32),
                                                      jnp.asarray(x, jnp.float32)), ref, rtol=1e-5)


def test_iwae_bound_ge_elbo_and_k1_equals_elbo_in_expectation(batch):
    x, _ = batch
    params = vae.init(jax.random.PRNGKey(5), CFG)
    xj = jnp.asarray(x)
    keys = jax.random.split(jax.random.PRNGKey(6), 400)
    elbos = jax.jit(jax.vmap(lambda k: vae.elbo(params, xj, k)["elbo"]))(keys)        # [400, B]
    iw1 = jax.jit(jax.vmap(lambda k: vae.iwae_bound(params, xj, k, 1)))(keys)          # [400, B]
    iw50 = jax.jit(jax.vmap(lambda k: vae.iwae_bound(params, xj, k, 50, chunk=50)))(keys[:100])
    se = elbos.std(0) / math.sqrt(400)
    # k = 1: the IWAE bound is a one-sample ELBO; same mean up to Monte Carlo error
    assert np.all(np.abs(iw1.mean(0) - elbos.mean(0)) < 5 * math.sqrt(2) * se)
    # k = 50 is a tighter bound: above the ELBO on average, by more than the noise
    assert np.all(iw50.mean(0) > elbos.mean(0) + 3 * se)


def test_iwae_bound_converges_to_log_px_when_decoder_ignores_z():
    """A decoder that ignores z has p(x) = p(x|z) exactly; with q(z|x) a fixed Gaussian near the prior,
    E_q[p(x, z) / q(z|x)] = p(x), so the k = 20,000 bound must land on log p(x)."""
    params = vae.init(jax.random.PRNGKey(7), CFG)
    params["dec"][0]["w"] = jnp.zeros_like(params["dec"][0]["w"])
    params["enc"][-1]["w"] = jnp.zeros_like(params["enc"][-1]["w"])
    params["enc"][-1]["b"] = jnp.array([0.3, -0.2, 0.1, -0.2, 0.1, 0.0])   # mu, logvar
    x = jnp.asarray((np.random.default_rng(8).random((3, 12)) < 0.5).astype(np.float32))
    exact = vae.bernoulli_log_prob(vae.decode(params, jnp.zeros((1, 3))), x)
    b = vae.iwae_bound(params, x, jax.random.PRNGKey(9), 20_000, chunk=1000)
    np.testing.assert_allclose(b, exact, atol=0.01)
    e = jax.vmap(lambda k: vae.elbo(params, x, k)["elbo"])(jax.random.split(jax.random.PRNGKey(10), 256))
    assert np.all(np.asarray(e.mean(0)) < np.asarray(exact))   # on average below, by KL(q || p)


def test_iwae_rejects_bad_chunk():
    params = vae.init(jax.random.PRNGKey(0), CFG)
    with pytest.raises(ValueError, match="multiple"):
        vae.iwae_bound(params, jnp.zeros((1, 12)), jax.random.PRNGKey(0), 150, chunk=100)


def test_loss_decreases_on_a_tiny_batch(batch):
    import optax
    x, _ = batch
    params = vae.init(jax.random.PRNGKey(1), CFG)
    opt = optax.adam(1e-2)
    st = opt.init(params)
    b = {"x": jnp.asarray(x)}

    @jax.jit
    def upd(p, s, k):
        l, g = jax.value_and_grad(lambda q: vae.loss_fn(q, b, k, binarize=False)[0])(p)
        u, s = opt.update(g, s)
        return optax.apply_updates(p, u), s, l
    losses = []
    for i in range(300):
        params, st, l = upd(params, st, jax.random.PRNGKey(i))
        losses.append(float(l))
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20])


def test_sample_shapes_and_cvae_needs_labels():
    cfg = vae.VAEConfig(12, (9,), 2, 3)
    params = vae.init(jax.random.PRNGKey(0), cfg)
    s = vae.sample(params, jax.random.PRNGKey(1), 4, jnp.arange(4) % 3, z_dim=2, n_classes=3)
    assert s.shape == (4, 12) and float(s.min()) >= 0 and float(s.max()) <= 1
    with pytest.raises(ValueError, match="labels"):
        vae.encode(params, jnp.zeros((2, 12)), None, n_classes=3)


def test_init_is_glorot_uniform_as_before():
    """The shared ``layers.mlp_init(..., init="glorot")`` draws exactly what the VAE's own MLP init did."""
    params = vae.init(jax.random.PRNGKey(3), CFG)
    ke, kd = jax.random.split(jax.random.PRNGKey(3))
    for part, key, sizes in (("enc", ke, [12, 9, 6]), ("dec", kd, [3, 9, 12])):
        for k, a, b, layer in zip(jax.random.split(key, 2), sizes[:-1], sizes[1:], params[part]):
            lim = math.sqrt(6.0 / (a + b))
            np.testing.assert_array_equal(layer["w"], jax.random.uniform(k, (a, b), jnp.float32, -lim, lim))
            assert not np.asarray(layer["b"]).any()


# ------------------------------------------------------------------------------------ public API
def test_api_sample_reconstruct_manifold_and_load(tmp_path):
    from jaxseq.training.checkpoint import Checkpointer
    cfg = vae.VAEConfig(16, (9,), 2, 3)
    params = vae.init(jax.random.PRNGKey(0), cfg)
    ck = Checkpointer(tmp_path / "ckpt", keep=1)
    ck.save(5, params, meta={"vae": {"x_dim": 16, "hidden": [9], "z_dim": 2, "n_classes": 3}})
    ck.close()
    m = api.load(tmp_path / "ckpt")
    assert m.config == cfg and m.conditional
    s = m.sample(6, seed=1)                                   # CVAE without labels: classes in turn
    np.testing.assert_allclose(s, m.sample(6, labels=[0, 1, 2, 0, 1, 2], seed=1), rtol=1e-6)
    assert s.shape == (6, 16) and 0 <= s.min() and s.max() <= 1
    assert not np.allclose(s, m.sample(6, seed=2))
    b = m.sample(4, labels=2, mean=False)
    assert set(np.unique(b)) <= {0.0, 1.0}
    assert m.reconstruct(np.full((3, 16), 0.5), labels=[0, 1, 2]).shape == (3, 16)
    assert m.manifold(4).shape == (16, 16)
    with pytest.raises(ValueError, match="labels must lie"):
        m.sample(2, labels=3)
    x = (np.random.default_rng(0).random((4, 16)) < 0.5).astype(np.float32)
    r = m.score(x, labels=[0, 1, 2, 0], iw_k=10)
    assert r["n_scored"] == 4 and r["test_iw_nll"] <= -r["test_elbo"] + 1.0


def test_api_defaults_are_the_experiments():
    import inspect
    assert inspect.signature(api.VAE.score).parameters["iw_k"].default == api.VAETrainConfig().iw_k
    with pytest.raises(ValueError, match="multiple of 100"):
        api.VAETrainConfig(iw_k=150)


def test_config_refuses_bad_values():
    for kw, what in ((dict(epochs=0), "epochs 0"), (dict(batch_size=0), "batch_size 0"),
                     (dict(lr=-1.0), "lr = -1.0"), (dict(iw_k=0), "iw_k = 0"), (dict(t10k_split=1.5), "1.5"),
                     (dict(eval_n=-5), "eval_n = -5"), (dict(hidden=(0,)), r"\(0,\)")):
        with pytest.raises(ValueError, match=what):
            api.VAETrainConfig(**kw)


def test_load_names_another_familys_checkpoint():
    from pathlib import Path
    from jaxseq.errors import DataError
    hw = Path(__file__).resolve().parents[2] / "ckpt" / "handwriting_prediction"
    with pytest.raises(DataError, match=f"{hw} is a handwriting prediction checkpoint, not a VAE one"):
        api.load(hw)
