"""Stroke-3 conversions, SVG writer and plot helpers."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from jaxseq.data import strokes as S
from jaxseq.viz import strokes as V


def _toy():
    # two strokes: a 3-point "L" then a 2-point dash after a pen-up jump
    return np.array([[1, 1, 0], [0, 2, 0], [2, 0, 1], [5, -2, 0], [1, 0, 1]], np.float32)


def test_offsets_absolute_round_trip():
    rng = np.random.default_rng(0)
    s = np.concatenate([rng.normal(size=(50, 2)), (rng.random((50, 1)) < 0.1)], 1).astype(np.float32)
    pts = S.to_absolute(s)
    np.testing.assert_allclose(pts, np.cumsum(s[:, :2].astype(np.float64), 0), atol=1e-12)
    back = S.to_offsets(pts, s[:, 2])
    np.testing.assert_allclose(back, s, atol=1e-5)
    # non-zero start point shifts everything and still round-trips
    np.testing.assert_allclose(S.to_offsets(S.to_absolute(s, (3, 4)), s[:, 2], (3, 4)), s, atol=1e-5)


def test_split_at_eos():
    lines = S.split_strokes(_toy())
    assert [len(p) for p in lines] == [3, 2]
    np.testing.assert_allclose(lines[0], [[1, 1], [1, 3], [3, 3]])
    np.testing.assert_allclose(lines[1], [[8, 1], [9, 1]])       # the pen-up jump is not inside a stroke
    # trailing stroke with no eos is kept; no empty strokes from a final eos
    assert [len(p) for p in S.split_strokes(_toy()[:4])] == [3, 1]
    with pytest.raises(ValueError, match="stroke-3"):
        S.split_strokes(np.zeros((4, 2)))


def test_svg_valid_xml_one_path_per_stroke(tmp_path):
    p = V.save_svg(tmp_path / "a.svg", _toy())
    root = ET.parse(p).getroot()
    paths = root.findall(".//{http://www.w3.org/2000/svg}path")
    assert len(paths) == 2
    assert paths[0].get("d").startswith("M") and paths[0].get("d").count("L") == 2
    # several lines stack vertically; titles are escaped
    p2 = V.save_svg(tmp_path / "b.svg", [_toy(), _toy(), _toy()[:3]], titles=["a<b", "c&d", "e"])
    root = ET.parse(p2).getroot()
    groups = root.findall("{http://www.w3.org/2000/svg}g")
    assert len(groups) == 3 and len(root.findall(".//{http://www.w3.org/2000/svg}path")) == 5
    first_y = [float(g.find("{http://www.w3.org/2000/svg}path").get("d")[1:].split()[0].split(",")[1])
               for g in groups]
    assert first_y[0] < first_y[1] < first_y[2]
    assert groups[0].find("{http://www.w3.org/2000/svg}title").text == "a<b"


def _png_ok(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_plots_save_pngs(tmp_path):
    from matplotlib.figure import Figure

    rng = np.random.default_rng(1)
    s = _toy()
    _png_ok(V.plot_grid(tmp_path / "g.png", [s, s * 2, s[:3]], titles=["a", "b", "c"], ncols=2))

    T, M = len(s), 3
    raw = {"log_pi": np.log(np.full((T, M), 1 / M)), "mu1": rng.normal(size=(T, M)),
           "mu2": rng.normal(size=(T, M)), "log_s1": np.full((T, M), -0.5),
           "log_s2": np.full((T, M), -0.7), "rho": np.full((T, M), 0.3)}
    ab = V.mixture_to_absolute(raw, s)
    np.testing.assert_allclose(ab["mu1"] - raw["mu1"], np.repeat(S.to_absolute(s)[:, :1], M, 1))
    fig = Figure(figsize=(6, 6))
    ax1, ax2, ax3, ax4 = fig.subplots(4, 1).flat
    V.plot_mixture_density(ax1, s, ab, mode="heatmap", grid=40)
    V.plot_mixture_density(ax2, s, ab, mode="ellipses")
    V.plot_attention(ax3, rng.random((T, 4)), "ab c")
    V.plot_window(ax4, rng.random((T, 5)), "abcde")
    fig.savefig(tmp_path / "m.png")
    _png_ok(tmp_path / "m.png")
    with pytest.raises(ValueError, match="mode"):
        V.plot_mixture_density(ax1, s, ab, mode="bogus")


def test_density_grid_matches_bivariate_log_prob():
    """The plot's numpy density equals exp(jaxseq.nn.mixtures.bivariate_log_prob) at each grid point."""
    import jax.numpy as jnp
    from jaxseq.nn import mixtures as mdn

    rng = np.random.default_rng(2)
    M = 2
    p = {"log_pi": np.log([[0.3, 0.7]]), "mu1": rng.normal(size=(1, M)), "mu2": rng.normal(size=(1, M)),
         "log_s1": np.array([[-0.2, 0.1]]), "log_s2": np.array([[0.3, -0.4]]), "rho": np.array([[0.5, -0.2]])}
    xs, ys = np.linspace(-2, 2, 7), np.linspace(-1.5, 1.5, 5)
    g = V.mixture_density_grid(p, xs, ys)
    X, Y = np.meshgrid(xs, ys)
    pj = {k: jnp.asarray(v[0], jnp.float32) for k, v in p.items()}
    ref = np.exp(np.asarray(mdn.bivariate_log_prob(pj, jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32))))
    # one step, peak-normalised on the grid: equal to the reference divided by its grid maximum
    np.testing.assert_allclose(g, ref / ref.max(), rtol=2e-4, atol=1e-7)
