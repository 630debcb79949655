"""The spatial transformer: shapes, the identity start (the warp passes the image through and the model
equals the plain CNN), the localisation net getting gradients, the random affine distortions, a tiny
overfit, and config/meta checks."""
import dataclasses
import functools

import jax
import numpy as np
import optax
import pytest

from jaxseq.data import images
from jaxseq.errors import DataError
from jaxseq.models import stn
from jaxseq.models.cnn import model as cnn
from jaxseq.models.stn import model as sm
from jaxseq.models.stn import training as st
from jaxseq.nn.warp import IDENTITY

CFG = sm.STNConfig()


@pytest.fixture(scope="module")
def params():
    return jax.jit(lambda k: sm.init(k, CFG))(jax.random.PRNGKey(0))   # one compile, not one per leaf


def digits(n=4, seed=0):
    x = np.zeros((n, 28, 28, 1), np.float32)
    rng = np.random.default_rng(seed)
    for i in range(n):
        r, c = rng.integers(4, 14, 2)
        x[i, r:r + 12, c:c + 6] = rng.random((12, 6, 1))
    return x


def test_shapes_and_param_structure(params):
    assert set(params) == {"cnn", "loc"}
    assert [p["w"].shape for p in params["loc"]["conv"]] == [(7, 7, 1, 8), (5, 5, 8, 10)]
    assert params["loc"]["fc"][0]["w"].shape == (90, 32) and CFG.loc_spatial_out == 3
    x = digits(3)
    logits = jax.jit(lambda p, x, k: sm.apply(p, x, train=True, key=k))(params, x, jax.random.PRNGKey(1))
    warped, theta = jax.jit(sm.transform)(params, x)
    assert logits.shape == (3, 10) and warped.shape == (3, 28, 28, 1) and theta.shape == (3, 2, 3)
    plain = jax.eval_shape(lambda k: sm.init(k, dataclasses.replace(CFG, stn=False)), jax.random.PRNGKey(0))
    assert set(plain) == {"cnn"}
    plain = {"cnn": params["cnn"]}
    assert sm.apply(plain, x[..., 0], train=False).shape == (3, 10)     # [N, H, W] accepted too


def test_identity_init_passes_the_image_through(params):
    """Zero last-layer weights and the identity bias: theta = I for any image, the warp is the identity,
    and the STN model's logits are the CNN's on the raw image."""
    head = params["loc"]["fc"][1]
    assert not np.any(np.asarray(head["w"])) and np.allclose(head["b"], np.ravel(IDENTITY))
    x = digits(4)
    warped, theta = jax.jit(sm.transform)(params, x)
    np.testing.assert_allclose(theta, np.broadcast_to(IDENTITY, (4, 2, 3)), atol=0)
    np.testing.assert_allclose(warped, x, atol=1e-5)
    both = jax.jit(lambda p, x: (sm.apply(p, x, train=False), cnn.apply(p["cnn"], x, train=False)))
    np.testing.assert_allclose(*both(params, x), rtol=1e-5, atol=1e-5)


def test_localisation_net_gets_a_gradient(params):
    batch = {"x": (digits(8) * 255).astype(np.uint8), "y": np.arange(8) % 10}
    loss = functools.partial(st.loss_fn, rate=0.0, distortion=st.STNTrainConfig().distortion())
    g = jax.jit(jax.grad(lambda p: loss(p, batch, jax.random.PRNGKey(0), 0)[0]))(params)
    assert np.abs(np.asarray(g["loc"]["fc"][1]["w"])).sum() > 0     # the zero head starts to move
    assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree_util.tree_leaves(g))


def test_random_affine_ranges_and_determinism():
    key = jax.random.PRNGKey(3)
    th = np.asarray(images.random_affine(key, 500, rotation=30, scale=(0.8, 1.25), shift=2, size=28))
    a = th[:, :2, :2]
    det = np.linalg.det(a)                         # R / s: det = 1 / s^2
    assert np.all(det >= 1 / 1.25 ** 2 - 1e-5) and np.all(det <= 1 / 0.8 ** 2 + 1e-5)
    ang = np.degrees(np.arctan2(a[:, 1, 0], a[:, 0, 0]))
    assert np.abs(ang).max() <= 30 + 1e-3 and np.abs(ang).max() > 25
    assert np.abs(th[:, :, 2]).max() <= 2 * 2 / 28 + 1e-6
    np.testing.assert_array_equal(th, images.random_affine(key, 500, rotation=30, scale=(0.8, 1.25),
                                                           shift=2, size=28))
    none = images.random_affine(key, 3, rotation=0, scale=(1, 1), shift=0)
    np.testing.assert_allclose(none, np.broadcast_to(IDENTITY, (3, 2, 3)), atol=1e-7)
    x = digits(3)
    out = images.affine_distort(key, x, rotation=0, scale=(1, 1), shift=0)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, x, atol=1e-5)


def test_test_set_distortion_is_fixed_by_test_seed():
    x = (digits(5) * 255).astype(np.uint8).reshape(5, -1)
    cfg = st.STNTrainConfig()
    a, b = st.distorted_test_set(cfg, x), st.distorted_test_set(cfg, x)
    c = st.distorted_test_set(dataclasses.replace(cfg, test_seed=2), x)
    assert a.shape == (5, 28, 28, 1) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1


@pytest.mark.slow   # ~20 s on 2 cores; tests/experiments/test_stn_cli.py trains the same model by default
def test_tiny_overfit():
    """Twelve distorted images, their labels learnt by the STN + CNN in 80 Adam steps."""
    cfg = dataclasses.replace(CFG, cnn=cnn.CNNConfig(dropout=0.0))
    params = jax.jit(lambda k: sm.init(k, cfg))(jax.random.PRNGKey(1))
    x = images.affine_distort(jax.random.PRNGKey(2), digits(12, seed=1))
    y = np.arange(12) % 10
    opt = optax.adam(3e-3)

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(lambda p: cnn.cross_entropy(sm.apply(p, x, train=False), y))(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    s = opt.init(params)
    for _ in range(80):
        params, s, loss = step(params, s)
    assert float(loss) < 0.1
    assert (np.asarray(sm.apply(params, x, train=False)).argmax(-1) == y).all()


def test_config_and_meta_errors():
    with pytest.raises(ValueError, match="scale_min"):
        st.STNTrainConfig(scale_min=1.5, scale_max=1.2)
    with pytest.raises(ValueError, match="loc_channels"):
        sm.STNConfig(loc_channels=(8,), loc_kernels=(7, 5))
    with pytest.raises(DataError, match="not a spatial-transformer checkpoint"):
        st.model_from_meta({"vae": {}}, "somewhere")
    meta = {"family": "stn", "model": dataclasses.asdict(CFG)}
    meta = __import__("json").loads(__import__("json").dumps(meta))       # as stored: lists, dicts
    assert st.model_from_meta(meta) == CFG
    with pytest.raises(FileNotFoundError, match="no spatial-transformer checkpoint"):
        stn.load("surely/not/a/dir")


def test_shipped_model_loads_without_data():
    m = stn.load()                                   # ckpt/stn/mnist, found from any working directory
    assert m.has_stn and m.config.cnn.size == 28 and set(stn.shipped()) >= {"mnist", "fashion-mnist"}
    x = (digits(4) * 255).astype(np.uint8)[..., 0]
    warped, theta = m.warp(x)
    assert m.predict(x).shape == (4,) and warped.shape == (4, 28, 28, 1) and theta.shape == (4, 2, 3)


def test_shipped_model_on_distorted_test_digits(data_dir):
    from jaxseq.data import mnist
    m = stn.load("mnist")
    cfg = st.STNTrainConfig(**m.meta["config"])
    _, _, xte, yte, _ = mnist.load_split("mnist", data_dir, cfg.t10k_split, cfg.split_seed)
    assert m.score(st.distorted_test_set(cfg, xte[:500]), yte[:500])["acc"] > 0.95
