"""VAE/CVAE bounds against float64 numpy references, KL closed form vs Monte Carlo, IWAE properties, the IDX
loader, and a smoke test on real Fashion-MNIST / MNIST files."""
from __future__ import annotations

import gzip
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.data import mnist as idx
from jaxseq.models.vae import model as vae
from jaxseq.errors import DataError

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


# ------------------------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_handmade(tmp_path, gz):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / ("a.idx" + (".gz" if gz else ""))
    idx.write_idx(p, arr)
    raw = (gzip.open(p) if gz else open(p, "rb")).read()
    assert raw[:4] == bytes([0, 0, 0x08, 3]) and raw[4:8] == (2).to_bytes(4, "big")
    np.testing.assert_array_equal(idx.read_idx(p), arr)
    f = np.array([1.5, -2.0], np.float32)
    idx.write_idx(tmp_path / "f.idx", f)
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "f.idx"), f)


def test_idx_truncated_file_error(tmp_path):
    p = tmp_path / "t.idx"
    idx.write_idx(p, np.zeros((10, 28, 28), np.uint8))
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(DataError, match=r"t\.idx.*truncated"):
        idx.read_idx(p)
    g = tmp_path / "t.idx.gz"
    g.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"\x01\x02"))
    with pytest.raises(DataError, match="truncated"):
        idx.read_idx(g)
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(DataError, match="not an IDX file"):
        idx.read_idx(bad)


def test_missing_split_names_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "mnist").mkdir()
    assert not idx.has_split("mnist", "train", tmp_path)
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        idx.load_images("mnist", "train", tmp_path)


def test_real_fashion_mnist_and_mnist(data_dir):
    x, y = idx.load_images("fashion-mnist", "test", data_dir)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and set(np.unique(y)) == set(range(10))
    if idx.has_split("fashion-mnist", "train", data_dir):
        xt, _ = idx.load_images("fashion-mnist", "train", data_dir)
        assert xt.shape == (60000, 28, 28)
    if (data_dir / "mnist").is_dir():
        xm, ym = idx.load_images("mnist", "test", data_dir)
        assert xm.shape == (10000, 28, 28) and np.bincount(ym).min() > 800


@pytest.mark.slow  # ~40 s of compiling and plotting
def test_vae_experiment_smoke(data_dir, tmp_path):
    import importlib.util
    import json
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "vae_exp", Path(__file__).resolve().parents[2] / "experiments" / "vae.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod   # dataclasses look their module up there
    spec.loader.exec_module(mod)
    mod.main(["--data", "mnist", "--data-dir", str(data_dir), "--t10k-split", "0.5", "--epochs", "0.1",
              "--hidden", "32", "--z-dim", "2", "--conditional", "--iw-k", "100", "--eval-n", "500",
              "--out", str(tmp_path)])
    res = json.loads((tmp_path / "results.json").read_text())
    assert "NOT the standard split" in res["split"]
    assert 0 < res["test_iw_nll"] <= -res["test_elbo"] + 1.0  # IW bound tighter than the ELBO
    assert len(list(tmp_path.glob("*.png"))) == 3


def test_debian_fallback_location(tmp_path, monkeypatch):
    """With no data dir and no $JAXSEQ_DATA, Fashion-MNIST is found where Debian's package puts it."""
    monkeypatch.delenv("JAXSEQ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    deb = tmp_path / "usr_share_datasets_fashion-mnist"
    deb.mkdir()
    imgs = np.random.default_rng(0).integers(0, 256, (4, 28, 28)).astype(np.uint8)
    idx.write_idx(deb / "t10k-images-idx3-ubyte.gz", imgs)
    idx.write_idx(deb / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2, 9], np.uint8))
    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST", deb)
    x, y = idx.load_images("fashion-mnist", "test")
    np.testing.assert_array_equal(x, imgs)
    assert y.tolist() == [0, 1, 2, 9] and y.dtype == np.int32
    assert not idx.has_split("mnist", "test")   # the Debian fallback is for Fashion-MNIST only
