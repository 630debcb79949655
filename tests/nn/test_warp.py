"""The spatial-transformer warp against a float64 numpy definition of PyTorch's affine_grid + grid_sample
(align_corners=False, bilinear, zeros padding), finite-difference gradients in theta and the image, and
exact cases (identity, a one-pixel shift, a flip)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_grad_close
from jaxseq.nn import warp


def np_affine_grid(theta, h, w):
    """PyTorch's construction: base coordinates linspace(-1, 1, n) * (n - 1) / n, then base @ theta^T."""
    xs = np.linspace(-1, 1, w) * (w - 1) / w
    ys = np.linspace(-1, 1, h) * (h - 1) / h
    base = np.stack([np.tile(xs, (h, 1)), np.tile(ys[:, None], (1, w)), np.ones((h, w))], -1)
    return np.einsum("hwk,bck->bhwc", base, np.float64(theta))


def np_grid_sample(img, grid):
    """One output pixel at a time: unnormalise, four corners, zero outside the image."""
    B, H, W, C = img.shape
    _, ho, wo, _ = grid.shape
    out = np.zeros((B, ho, wo, C))
    for b in range(B):
        for i in range(ho):
            for j in range(wo):
                x = ((grid[b, i, j, 0] + 1) * W - 1) / 2
                y = ((grid[b, i, j, 1] + 1) * H - 1) / 2
                x0, y0 = int(np.floor(x)), int(np.floor(y))
                for yy in (y0, y0 + 1):
                    for xx in (x0, x0 + 1):
                        if 0 <= xx < W and 0 <= yy < H:
                            out[b, i, j] += (1 - abs(x - xx)) * (1 - abs(y - yy)) * img[b, yy, xx]
    return out


def random_theta(rng, b, spread=0.4):
    return np.float64(warp.IDENTITY) + spread * rng.normal(size=(b, 2, 3))


def test_affine_grid_matches_pytorch_construction():
    theta = random_theta(np.random.default_rng(0), 3)
    g = warp.affine_grid(jnp.asarray(theta, jnp.float32), (5, 7))
    assert g.shape == (3, 5, 7, 2) and g.dtype == jnp.float32
    np.testing.assert_allclose(g, np_affine_grid(theta, 5, 7), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("out_hw", [(6, 5), (9, 11)])
def test_bilinear_sample_matches_numpy(out_hw):
    rng = np.random.default_rng(1)
    img = rng.normal(size=(2, 6, 5, 3))
    theta = random_theta(rng, 2)           # parts of the grid fall outside: the zero padding is tested
    grid = np_affine_grid(theta, *out_hw)
    assert np.abs(grid).max() > 1.0
    got = warp.bilinear_sample(jnp.asarray(img, jnp.float32), jnp.asarray(grid, jnp.float32))
    assert got.shape == (2, *out_hw, 3)
    np.testing.assert_allclose(got, np_grid_sample(img, grid), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(warp.warp(jnp.asarray(img, jnp.float32), jnp.asarray(theta, jnp.float32),
                                         out_hw), got, rtol=1e-5, atol=1e-6)


def test_identity_reproduces_the_image_and_a_shift_moves_one_pixel():
    img = np.random.default_rng(2).random((2, 8, 10, 1)).astype(np.float32)
    np.testing.assert_allclose(warp.warp(img, warp.identity_theta(2)), img, atol=1e-6)
    shift = np.float32([[[1, 0, 2 / 10], [0, 1, 0]]] * 2)           # read one pixel to the right
    out = np.asarray(warp.warp(img, shift))
    np.testing.assert_allclose(out[:, :, :-1], img[:, :, 1:], atol=1e-6)
    np.testing.assert_allclose(out[:, :, -1], 0.0, atol=1e-6)        # zeros padding
    flip = np.float32([[[-1, 0, 0], [0, 1, 0]]] * 2)
    np.testing.assert_allclose(warp.warp(img, flip), img[:, :, ::-1], atol=1e-6)


def test_gradients_finite_differences_in_theta_and_image(x64):
    rng = np.random.default_rng(3)
    img = rng.normal(size=(2, 5, 6, 2))
    theta = random_theta(rng, 2, spread=0.3)
    probe = rng.normal(size=(2, 4, 7, 2))

    def f(theta, img):
        out = warp.warp(img, theta, (4, 7))
        assert out.dtype == jnp.float64
        return jnp.sum(jnp.sin(out) * probe)

    assert_grad_close(f, (theta, img), n_dirs=6, eps=1e-6, rtol=1e-5, atol=1e-8)
    g = jax.grad(f)(theta, img)
    assert np.abs(np.asarray(g)).sum() > 0      # theta does get a gradient (through the weights)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"\[B, 2, 3\]"):
        warp.affine_grid(np.zeros((2, 3, 3)), (4, 4))
    with pytest.raises(ValueError, match="same B"):
        warp.bilinear_sample(np.zeros((2, 4, 4, 1)), np.zeros((3, 4, 4, 2)))
