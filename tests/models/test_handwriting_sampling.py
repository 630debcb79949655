"""Issue 11 handwriting: the end-of-line rule (linger, trim, stray-tail measure), bucketed shapes (one
compiled sampler for similar texts), nearest-character substitution, rare-line oversampling, weight noise
and the SVG/PNG layout (tiny sizes; no checkpoint, no data)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.data.charset import UNKNOWN, Charset
from jaxseq.models.handwriting import model as hw
from jaxseq.models.handwriting import sample as hw_sample
from jaxseq.models.handwriting import training as hw_train
from jaxseq.viz.strokes import handwriting_layout, layout_lines, save_lines_png, save_svg
from test_handwriting import _sample_args, init_np, tiny


def _one_char_args(cfg, n=3):
    """Texts of one character each: the window starts on the last character."""
    keys, _, b, tau, primes, plens = _sample_args(cfg, n)
    texts = np.full((n, 6), -1, np.int32)
    texts[:, 0] = np.arange(n) % cfg.vocab
    return keys, jnp.asarray(texts), b, tau, primes, plens


def test_linger_ends_a_line_whose_window_stays_on_the_last_character():
    cfg = tiny("synthesis")
    stuck = jax.tree_util.tree_map(np.array, init_np(cfg, 0))
    K = cfg.n_gauss
    stuck["window"]["w"][:] = 0.0
    stuck["window"]["b"][2 * K:] = -10.0                    # the window never moves
    args = _one_char_args(cfg)
    _, never, _ = hw_sample.sample_batch(stuck, cfg, *args, max_steps=25, linger=10 ** 6)
    assert (np.asarray(never) == 25).all()                  # without the linger limit: the step cap
    _, ln, _, past, last = hw_sample.sample_batch(stuck, cfg, *args, max_steps=25, linger=5, with_ends=True)
    np.testing.assert_array_equal(ln, 6)                    # on the last char 6 > 5 steps, tail 0: stop
    np.testing.assert_array_equal(past, 5)
    np.testing.assert_array_equal(last, 0)
    assert hw_sample.default_linger(cfg) == round(3.5 / cfg.kappa_scale)


def test_points_do_not_depend_on_the_step_cap():
    """Noise is drawn per chunk, so a longer (bucketed) cap only appends points."""
    cfg = tiny("synthesis")
    params = init_np(cfg, 1)
    args = _one_char_args(cfg)
    s1, l1, _ = hw_sample.sample_batch(params, cfg, *args, max_steps=40, linger=10 ** 6)
    s2, l2, _ = hw_sample.sample_batch(params, cfg, *args, max_steps=100, linger=10 ** 6)
    for i in range(3):
        n = min(int(l1[i]), int(l2[i]))
        np.testing.assert_allclose(np.asarray(s1)[i, :n], np.asarray(s2)[i, :n], atol=1e-6)


def test_similar_texts_reuse_the_compiled_sampler():
    cfg, cs = tiny("synthesis", vocab=6), Charset("abcd ")
    params = init_np(cfg, 0)
    hw_sample.generate(params, cfg, cs, ["ab cd"], max_steps=None)
    size = hw_sample._sample_batch._cache_size()
    hw_sample.generate(params, cfg, cs, ["dcba a"], seed=3)          # another text, same buckets
    hw_sample.generate(params, cfg, cs, ["abc", "dd"], seed=1)        # and two lines: batch of 2
    hw_sample.generate(params, cfg, cs, ["a", "b"], seed=2)
    assert hw_sample._sample_batch._cache_size() == size + 1
    assert hw_sample.default_max_steps(cfg, ["ab"]) == hw_sample.default_max_steps(cfg, ["abcdefgh"])
    assert hw_sample.default_max_steps(cfg, ["ab"]) % hw_sample.STEP_BUCKET == 0


def test_trim_line():
    up = lambda *eos: np.array([[1.0, 0.0, e] for e in eos], np.float32)
    # ended with the pen down: kept whole (the last letter's stroke), the pen lifts at the end
    np.testing.assert_array_equal(hw_sample.trim_line(up(0, 1, 0, 1, 0, 0), 4)[:, 2], [0, 1, 0, 1, 0, 1])
    # a pen-up past the end and a stroke after it: the stroke goes
    np.testing.assert_array_equal(hw_sample.trim_line(up(0, 0, 1, 0, 0, 1), 1)[:, 2], [0, 0, 1])
    assert len(hw_sample.trim_line(np.zeros((0, 3)), 0)) == 0


def test_stray_tail_measure():
    k = 0.25                                        # 4 points per character
    phi = np.zeros((12, 3), np.float32)             # text of 2 characters, phi one past it in column 2
    phi[:6, 0], phi[6:9, 1], phi[9:, 2] = 1, 1, 1   # past the end from step 9
    pts = np.zeros((12, 3), np.float32)
    pts[11, 2] = 1
    assert not hw_sample.stray_tail(pts, phi, k)    # 2 points past the end, then the pen lifts
    more = pts.copy()
    more[9, 2] = 1                                  # pen lifts past the end, then draws again
    assert hw_sample.stray_tail(more, phi, k)
    assert hw_sample.stray_tail(pts, phi, 0.9)      # 2 points > one character's worth (1.1 points)
    never = phi.copy()
    never[9:] = [0, 1, 0]
    assert hw_sample.stray_tail(pts, never, k)      # the window never passed the text


def test_charset_nearest_and_one_description():
    cs = Charset("abiquxz -'\"")
    texts, subs = cs.substitute(["Quiz X", "a\u00e1 \u201cb\u201d \u2013 \u2603"])
    assert texts == ["quiz x", 'aa "b" - ' + UNKNOWN]
    assert subs["Q"] == "q" and subs["X"] == "x" and subs["\u00e1"] == "a" and subs["\u2013"] == "-"
    assert subs["\u201c"] == '"' and subs["\u2603"] == UNKNOWN
    line = Charset.describe(subs)
    assert "'Q' -> 'q'" in line and "the unknown symbol" in line and "\n" not in line
    assert cs.substitute(["ab"]) == (["ab"], {})


def test_oversample_rare_lines():
    texts = ["aaa", "ab", "1a", "aa"]
    pool = np.arange(4)
    assert (hw_train.oversample_rare(texts, pool, 2, 1) == pool).all()
    out = hw_train.oversample_rare(texts, pool, 2, 3)             # b and 1 are rare (seen once)
    assert sorted(out.tolist()) == [0, 1, 1, 1, 2, 2, 2, 3]


def test_weight_noise_only_on_matrices_and_seeded():
    cfg = tiny("synthesis")
    params = init_np(cfg, 0)
    k = jax.random.PRNGKey(0)
    a, b = hw.add_weight_noise(params, k, 0.1), hw.add_weight_noise(params, k, 0.1)
    for p, x, y in zip(*(jax.tree_util.tree_leaves(t) for t in (params, a, b))):
        np.testing.assert_array_equal(x, y)
        assert (np.asarray(x) != np.asarray(p)).any() == (np.ndim(p) >= 2)
    batch = {k2: jnp.asarray(v) for k2, v in __import__("test_handwriting").rand_batch().items()}
    clean = hw.make_loss(cfg)(params, batch, k, 0)[0]
    noisy = hw.make_loss(cfg, weight_noise=0.1)(params, batch, k, 0)[0]
    assert np.isfinite(noisy) and noisy != clean


def test_layout_has_no_overlap_and_fits_width(tmp_path):
    rng = np.random.default_rng(0)
    lines = [np.concatenate([rng.normal(size=(30, 2)), (rng.random((30, 1)) < 0.2)], 1).astype(np.float32)
             for _ in range(3)]
    kw = handwriting_layout(x_height=40)
    placed, (w0, h) = layout_lines(lines, **{k: v for k, v in kw.items() if k != "stroke_width"})
    boxes = [(np.concatenate(p)[:, 1].min(), np.concatenate(p)[:, 1].max()) for p in placed]
    assert all(boxes[i][1] < boxes[i + 1][0] for i in range(2)) and boxes[-1][1] < h
    assert kw["stroke_width"] == 2.0
    placed, (w, h) = layout_lines(lines, scale=kw["scale"], width=120.0, margin=10.0, line_height=500)
    assert w == 120.0 and max(np.concatenate(p)[:, 0].max() for p in placed) <= 110.0 + 1e-6
    assert h > 2 * 500                                            # line_height is the least pitch
    svg = save_svg(tmp_path / "a.svg", lines, titles=["x", "y", "z"], **kw)
    png = save_lines_png(tmp_path / "a.png", lines, **kw)
    import matplotlib.image
    img = matplotlib.image.imread(png)
    assert "<title>z</title>" in open(svg).read() and img.shape[1] == int(np.ceil(w0))
    with pytest.raises(ValueError, match="x_height"):
        handwriting_layout(x_height=0)
