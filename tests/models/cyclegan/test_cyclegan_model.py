"""CycleGAN pieces: shapes, instance norm and the three losses against float64 numpy, the history pool's
rules, a finite-difference gradient, determinism and a short overfit of the cycle loss."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxseq.models.cyclegan import model as cg
from jaxseq.models.cyclegan import training as tr

TINY = cg.CycleGANConfig(channels=1, image_size=8, ngf=4, n_down=1, n_res=1, ndf=4, d_layers=1)
gen, disc = jax.jit(cg.generator), jax.jit(cg.discriminator)   # one compilation instead of op by op


def _imgs(key, n=3, size=8, ch=1):
    return jax.random.uniform(jax.random.PRNGKey(key), (n, size, size, ch), jnp.float32, -1, 1)


@pytest.mark.parametrize("size,ch,d_layers,patch", [(28, 1, 2, 5), (32, 3, 1, 14)])
def test_shapes(size, ch, d_layers, patch):
    cfg = cg.CycleGANConfig(channels=ch, image_size=size, ngf=2, n_res=1, ndf=2, d_layers=d_layers)
    p = cg.init(jax.random.PRNGKey(0), cfg)
    x = _imgs(1, 2, size, ch)
    y = gen(p["g_ab"], x)
    assert y.shape == x.shape and y.dtype == jnp.float32
    assert float(jnp.abs(y).max()) <= 1.0
    assert jax.eval_shape(cg.discriminator, p["d_a"], x).shape == (2, patch, patch)


def test_config_errors():
    with pytest.raises(ValueError, match="multiple of"):
        cg.CycleGANConfig(image_size=30, n_down=2)
    with pytest.raises(ValueError, match="d_layers"):
        cg.CycleGANConfig(image_size=8, d_layers=3)
    with pytest.raises(ValueError, match="domains must be different"):
        tr.CycleGANTrainConfig(domain_a=7, domain_b=7)


def test_instance_norm_matches_numpy():
    x = np.random.default_rng(0).normal(2.0, 3.0, (2, 5, 6, 3))
    m = x.mean((1, 2), keepdims=True)
    v = ((x - m) ** 2).mean((1, 2), keepdims=True)
    ref = (x - m) / np.sqrt(v + 1e-5)
    np.testing.assert_allclose(np.asarray(cg.instance_norm(jnp.asarray(x, jnp.float32))), ref, atol=2e-5)


def test_instance_norm_gradient():
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 3, 3, 2)) * 2 + 1
    check_grads(lambda z: (cg.instance_norm(z) * jnp.arange(18.0).reshape(1, 3, 3, 2)).sum(), (x,),
                order=1, modes=["rev"], atol=5e-2, rtol=5e-2)


def test_reflect_pad_matches_numpy():
    x = np.arange(2 * 4 * 5 * 1, dtype=np.float32).reshape(2, 4, 5, 1)
    np.testing.assert_array_equal(np.asarray(cg.reflect_pad(jnp.asarray(x), 2)),
                                  np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect"))


def test_lsgan_losses_match_numpy():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(3, 4, 4)), rng.normal(size=(3, 4, 4))
    d_ref = 0.5 * (np.mean((real - 1.0) ** 2) + np.mean(fake ** 2))
    g_ref = np.mean((fake - 1.0) ** 2)
    assert float(cg.lsgan_d_loss(jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32))) == \
        pytest.approx(d_ref, rel=1e-5)
    assert float(cg.lsgan_g_loss(jnp.asarray(fake, jnp.float32))) == pytest.approx(g_ref, rel=1e-5)


def test_generator_and_discriminator_losses_match_numpy():
    p = cg.init(jax.random.PRNGKey(2), TINY)
    a, b = _imgs(3), _imgs(4)
    losses = jax.jit(cg.generator_losses, static_argnames=("lambda_cyc", "lambda_id"))
    total, parts, (fake_a, fake_b) = losses(p, p, a, b, lambda_cyc=10.0, lambda_id=0.5)
    f64 = lambda t: np.asarray(t, np.float64)   # noqa: E731
    G = lambda x: gen(p["g_ab"], x)     # noqa: E731
    F = lambda x: gen(p["g_ba"], x)     # noqa: E731
    na, nb = f64(a), f64(b)
    ref = {"g_adv_ab": np.mean((f64(disc(p["d_b"], G(a))) - 1) ** 2),
           "g_adv_ba": np.mean((f64(disc(p["d_a"], F(b))) - 1) ** 2),
           "cycle_a": 10.0 * np.mean(np.abs(f64(F(G(a))) - na)),
           "cycle_b": 10.0 * np.mean(np.abs(f64(G(F(b))) - nb)),
           "idt_a": 5.0 * np.mean(np.abs(f64(F(a)) - na)),
           "idt_b": 5.0 * np.mean(np.abs(f64(G(b)) - nb))}
    for k, v in ref.items():
        assert float(parts[k]) == pytest.approx(v, rel=1e-4), k
    assert float(total) == pytest.approx(sum(ref.values()), rel=1e-4)
    np.testing.assert_allclose(np.asarray(fake_b), np.asarray(G(a)), atol=1e-6)
    assert "idt_a" not in jax.eval_shape(lambda: cg.generator_losses(p, p, a, b, lambda_id=0.0))[1]
    ld, dparts = jax.jit(cg.discriminator_losses)(p, a, b, fake_a, fake_b)
    d_ref = 0.5 * (np.mean((f64(disc(p["d_a"], a)) - 1) ** 2) + np.mean(f64(disc(p["d_a"], fake_a)) ** 2))
    assert float(dparts["d_a"]) == pytest.approx(d_ref, rel=1e-4)
    # the fakes carry no gradient into the generators through the discriminator loss
    gz = jax.jit(jax.grad(lambda g: cg.discriminator_losses(p, a, b, cg.generator(g, b), fake_b)[0]))(
        p["g_ba"])
    assert all(float(jnp.abs(x).max()) == 0 for x in jax.tree_util.tree_leaves(gz))


def test_pool_rules():
    query = jax.jit(cg.pool_query)
    pool = cg.pool_init(4, (2, 2, 1))
    x1 = jnp.arange(3.0)[:, None, None, None] * jnp.ones((3, 2, 2, 1))
    out, pool = query(pool, x1, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, x1)                        # filling: shown as they are
    assert int(pool["count"]) == 3
    x2 = 10 + x1
    out, pool = query(pool, x2, jax.random.PRNGKey(1))
    assert int(pool["count"]) == 4                                 # full after one more
    np.testing.assert_array_equal(out[0], x2[0])
    stored = {float(v) for v in pool["images"][:, 0, 0, 0]}
    assert {0.0, 1.0, 2.0, 10.0} - stored <= {0.0, 1.0, 2.0, 10.0}  # swaps only ever move old images out
    for i in range(1, 3):   # once full: either the new image or one that was stored
        assert float(out[i, 0, 0, 0]) in {0.0, 1.0, 2.0, 10.0, 11.0, 12.0}
    shown = set()
    for s in range(20):
        o, _ = query(pool, x2, jax.random.PRNGKey(100 + s))
        shown |= {float(v) for v in o[:, 0, 0, 0]}
    assert shown & {0.0, 1.0, 2.0, 10.0} and shown & {11.0, 12.0}  # both kinds occur
    same, _ = query(pool, x2, jax.random.PRNGKey(7))
    again, _ = query(pool, x2, jax.random.PRNGKey(7))
    np.testing.assert_array_equal(same, again)
    empty = cg.pool_init(0, (2, 2, 1))
    o, e2 = cg.pool_query(empty, x2, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(o, x2)


def _state_and_batch(cfg):
    mcfg = cg.CycleGANConfig(channels=1, image_size=8, ngf=4, n_down=1, n_res=1, ndf=4, d_layers=1)
    params, opt = tr.init_state(jax.random.PRNGKey(0), cfg, mcfg)
    batch = {"a": _imgs(5, cfg.batch_size), "b": _imgs(6, cfg.batch_size)}
    return {"params": params, "opt": opt}, batch


@pytest.mark.slow   # ~20-35 s of compile on 2 cores; the CLI and API tests train the same step by default
def test_train_step_deterministic_and_overfits_cycle():
    cfg = tr.CycleGANTrainConfig(batch_size=4, pool_size=3, steps=40, lr=2e-3)
    step = tr.make_train_step(cfg)
    s1, batch = _state_and_batch(cfg)
    s2, _ = _state_and_batch(cfg)
    s1, m1 = step(s1, batch, jax.random.PRNGKey(3))
    s2, m2 = step(s2, batch, jax.random.PRNGKey(3))
    for x, y in zip(jax.tree_util.tree_leaves(s1), jax.tree_util.tree_leaves(s2)):
        np.testing.assert_array_equal(x, y)
    first = float(m1["cycle_a"] + m1["cycle_b"])
    for i in range(20):
        s1, m = step(s1, batch, jax.random.PRNGKey(10 + i))
    assert int(s1["opt"]["pool_a"]["count"]) == 3
    assert float(m["cycle_a"] + m["cycle_b"]) < 0.8 * first   # 10.3 -> 7.2 seen


def test_state_without_pool_checkpoints(tmp_path):
    from jaxseq.training.checkpoint import Checkpointer
    cfg = tr.CycleGANTrainConfig(pool_size=0)
    params, opt = tr.init_state(jax.random.PRNGKey(0), cfg, TINY)
    assert opt["pool_a"] == {"count": 0}
    ck = Checkpointer(tmp_path / "ck")
    ck.save(1, params, opt)
    _, back, _ = ck.restore(1, params_like=params, opt_state_like=opt)
    ck.close()
    assert int(back["pool_b"]["count"]) == 0
