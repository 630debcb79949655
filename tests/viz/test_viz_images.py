"""jaxseq.viz.images: pixel-exact grids (grey and RGB) and the progression figure."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from jaxseq.viz import images as vi


def test_grid_array_places_every_image():
    x = np.random.default_rng(0).uniform(size=(5, 4, 3))
    g = vi.grid_array(x, ncols=3, pad=1)
    assert g.shape == (2 * 5 - 1, 3 * 4 - 1)
    np.testing.assert_allclose(g[5:9, 4:7], x[4])               # row 1, column 1
    rgb = vi.grid_array(np.zeros((2, 4, 4, 3)), ncols=2, pad=2)
    assert rgb.shape == (4, 10, 3) and rgb[:, 4:6].min() == 1.0  # the gap is white
    with pytest.raises(ValueError, match="images of shape"):
        vi.grid_array(np.zeros((2, 4)))


def test_png_grid_and_progression(tmp_path):
    x = np.linspace(0, 1, 4 * 8 * 8).reshape(4, 8, 8, 1)
    p = vi.save_grid(tmp_path / "g.png", x, ncols=2, pad=0, scale=3)
    a = np.asarray(Image.open(p))
    assert a.shape == (48, 48) and a[0, 0] == 0 and a[-1, -1] == 255   # pixel-exact, scaled 3x
    np.testing.assert_array_equal(a[:3, :3], a[0, 0])
    q = vi.save_progression(tmp_path / "p.png", [x, x], ["step 0", "step 10"], title="t")
    assert q.stat().st_size > 1000
