"""Transfer learning pieces: freezing through optax.multi_transform leaves the body bit-identical while
the head learns, a new head replaces the old one, and the StepLR staircase."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxseq.models.cnn import model as cnn
from jaxseq.models.cnn import transfer as tr


def _toy(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int32)


def test_step_lr_staircase():
    s = tr.step_lr(1e-2, 10, 0.1)
    np.testing.assert_allclose([float(s(i)) for i in (0, 9, 10, 19, 20, 35)],
                               [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-5], rtol=1e-5)


def test_start_params_new_head():
    mcfg = cnn.CNNConfig()
    pre = cnn.init(jax.random.PRNGKey(0), mcfg)
    p = tr.start_params("frozen", pre, mcfg, jax.random.PRNGKey(1))
    np.testing.assert_array_equal(p["conv"][1]["w"], pre["conv"][1]["w"])
    np.testing.assert_array_equal(p["fc"][1]["w"], pre["fc"][1]["w"])
    assert not np.allclose(p["fc"][-1]["w"], pre["fc"][-1]["w"])
    s = tr.start_params("scratch", pre, mcfg, jax.random.PRNGKey(1))
    assert not np.allclose(s["conv"][0]["w"], pre["conv"][0]["w"])
    with pytest.raises(ValueError, match="unknown transfer mode"):
        tr.make_optimizer(p, "partial", 1e-3)


@pytest.mark.parametrize("mode", ["frozen", "frozen_conv", "finetune"])
def test_freezing_really_freezes(mode):
    mcfg = cnn.CNNConfig()
    pre = cnn.init(jax.random.PRNGKey(0), mcfg)
    x, y = _toy()
    cfg = tr.TransferConfig(epochs=3, batch_size=16, lr=1e-2, step_size=1)
    params, res = tr.run_mode(mode, pre, mcfg, cfg, (x, y), (x[:16], y[:16]))
    assert res["complete"] and res["steps_done"] == 12
    frozen = mode.startswith("frozen")
    assert tr.body_unchanged(pre, params, mode if frozen else "frozen") == frozen
    start = tr.start_params(mode, pre, mcfg, jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 1))
    assert not np.allclose(params["fc"][-1]["w"], start["fc"][-1]["w"])   # the head did learn
    if mode == "frozen_conv":   # every fc layer is new and trained; the convolutions are the pretrained ones
        assert not np.allclose(start["fc"][0]["w"], pre["fc"][0]["w"])
        assert not np.allclose(params["fc"][0]["w"], start["fc"][0]["w"])
        np.testing.assert_array_equal(params["conv"][1]["w"], pre["conv"][1]["w"])
