"""Shared image transforms: scaling, channel axes, padding 28 -> 32 and the inverse crop."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.data import images


def test_scaling_roundtrip_numpy_and_jax():
    u8 = np.array([[0, 1, 128, 255]], np.uint8)
    unit = images.to_unit(u8)
    assert unit.dtype == np.float32 and isinstance(unit, np.ndarray)
    np.testing.assert_allclose(unit, u8 / 255.0, rtol=1e-6)
    s = images.to_signed(u8)
    np.testing.assert_allclose(s, u8 / 127.5 - 1.0, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(images.from_signed(s), unit, atol=1e-6)
    np.testing.assert_array_equal(images.to_uint8(unit), u8)
    j = images.to_signed(jnp.asarray(u8))
    assert isinstance(j, jnp.ndarray) and j.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(j), s, atol=1e-6)
    assert float(images.from_signed(jnp.array([-3.0, 3.0])).min()) == 0.0   # clipped


def test_to_nhwc_shapes():
    x = np.zeros((5, 784), np.uint8)
    assert images.to_nhwc(x).shape == (5, 28, 28, 1)
    assert images.to_nhwc(x.reshape(5, 28, 28)).shape == (5, 28, 28, 1)
    assert images.to_nhwc(np.zeros((2, 3072)), channels=3).shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="not square"):
        images.to_nhwc(np.zeros((2, 700)))


def test_pad_and_crop_inverse():
    rng = np.random.default_rng(0)
    x = rng.random((3, 28, 28, 1)).astype(np.float32)
    p = images.pad_to(x, 32)
    assert p.shape == (3, 32, 32, 1)
    assert p[:, :2].sum() == 0 and p[:, :, -2:].sum() == 0
    np.testing.assert_array_equal(p[:, 2:30, 2:30], x)
    np.testing.assert_array_equal(images.center_crop(p, 28), x)
    pj = images.pad_to(jnp.asarray(x[..., 0]), 32, value=-1.0)   # [N, H, W], JAX, a fill value
    assert pj.shape == (3, 32, 32) and float(pj[0, 0, 0]) == -1.0
    with pytest.raises(ValueError, match="larger"):
        images.pad_to(x, 20)
    with pytest.raises(ValueError, match="smaller"):
        images.center_crop(x, 30)


def test_standardize():
    x = np.ones((1, 2, 2, 3), np.float32)
    np.testing.assert_allclose(images.standardize(x, [0.5] * 3, [0.5] * 3), np.ones_like(x))
