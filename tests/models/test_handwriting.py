"""Graves handwriting networks: shapes, a float64 numpy reference, masks, gradients, the one cell,
sampling, charset, the run setup (init-from, export) and training end to end on synthetic lines (tiny
sizes throughout)."""
from __future__ import annotations

import dataclasses
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq import handwriting
from jaxseq.data import iam
from jaxseq.data.charset import Charset, encode_batch
from jaxseq.errors import DataError
from jaxseq.models.handwriting import model as hw
from jaxseq.models.handwriting import sample as hw_sample
from jaxseq.models.handwriting import training as hw_train
from jaxseq.training.checkpoint import Checkpointer, export, load_for_sampling
nll = jax.jit(hw.nll, static_argnums=1)                 # one compile per shape instead of eager dispatch
loss_fn = jax.jit(hw.loss_fn, static_argnums=1)


def tiny(task, **kw):
    base = dict(task=task, hidden=8, layers=2, n_mix=3, n_gauss=2, vocab=5 if task == "synthesis" else 0,
                kappa_scale=0.3)
    base.update(kw)
    return hw.HWConfig(**base)


def init_np(cfg, seed=0):
    """Params with :func:`hw.init`'s structure and distribution, drawn with numpy: eager ``jax.random``
    compiles per shape (about a second of CPU per config). The numpy reference test uses hw.init."""
    shapes = jax.eval_shape(lambda k: hw.init(k, cfg), jax.random.PRNGKey(0))
    rng = np.random.default_rng(seed)

    def fill(path, s):
        if path[-1].key != "b":
            return (rng.uniform(-1.0, 1.0, s.shape) / np.sqrt(s.shape[0])).astype(np.float32)
        b = np.zeros(s.shape, np.float32)
        if path[0].key == "layers":  # LSTM forget-gate bias 1
            b[cfg.hidden:2 * cfg.hidden] = 1.0
        return b
    return jax.tree_util.tree_map_with_path(fill, shapes)


def rand_batch(B=3, T=10, U=4, V=5, seed=0, lengths=None):
    rng = np.random.default_rng(seed)
    xy = rng.normal(size=(B, T, 2)).astype(np.float32)
    eos = (rng.random((B, T, 1)) < 0.2).astype(np.float32)
    lengths = lengths or [T] * B
    mask = (np.arange(T)[None] < np.array(lengths)[:, None]).astype(np.float32)
    text = rng.integers(0, V, (B, U)).astype(np.int32)
    text[0, U - 1:] = -1  # one line with a shorter text
    return {"strokes": np.concatenate([xy, eos], -1), "mask": mask, "text": text,
            "text_mask": (text >= 0).astype(np.float32)}


# ----------------------------------------------------------------------------- float64 numpy reference
def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _lstm(p, h, c, x):
    g = x @ p["wx"] + h @ p["wh"] + p["b"]
    i, f, gg, o = np.split(g, 4, -1)
    c = _sig(f) * c + _sig(i) * np.tanh(gg)
    return _sig(o) * np.tanh(c), c


def numpy_nll(params, cfg, batch):
    """Graves eqs 15-26 and 46-51 written out step by step in float64, independent of jaxseq."""
    P = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    s, mask = np.asarray(batch["strokes"], np.float64), np.asarray(batch["mask"], np.float64)
    B, T, _ = s.shape
    H, M, K = cfg.hidden, cfg.n_mix, cfg.n_gauss
    out = np.zeros(B)
    for b in range(B):
        hc = [(np.zeros(H), np.zeros(H)) for _ in range(cfg.layers)]
        kappa, w = np.zeros(K), np.zeros(cfg.vocab)
        if cfg.synthesis:
            ids = batch["text"][b]
            chars = np.zeros((len(ids), cfg.vocab))
            for u, i in enumerate(ids):
                if i >= 0:
                    chars[u, i] = 1.0
        for t in range(T):
            if mask[b, t] == 0:
                continue
            x = s[b, t - 1] if t > 0 else np.zeros(3)
            hs = []
            for n in range(cfg.layers):
                inp = [x] + ([hs[-1]] if n > 0 else []) + ([w] if cfg.synthesis else [])
                h, c = _lstm(P["layers"][n], *hc[n], np.concatenate(inp))
                hc[n] = (h, c)
                hs.append(h)
                if n == 0 and cfg.synthesis:
                    r = h @ P["window"]["w"] + P["window"]["b"]
                    al, be, ka = np.exp(r[:K]), np.exp(r[K:2 * K]), np.exp(r[2 * K:])
                    kappa = kappa + ka * cfg.kappa_scale
                    u = np.arange(len(ids))
                    phi = (al[:, None] * np.exp(-be[:, None] * (kappa[:, None] - u) ** 2)).sum(0)
                    phi = phi * (ids >= 0)
                    w = phi @ chars
            y = np.concatenate(hs) @ P["out"]["w"] + P["out"]["b"]
            logit, mu1, mu2, ls1, ls2, rh = (y[i * M:(i + 1) * M] for i in range(6))
            pi = np.exp(logit - logit.max())
            pi /= pi.sum()
            s1, s2, rho = np.exp(ls1), np.exp(ls2), np.tanh(rh) * (1 - 1e-5)
            z1, z2 = (s[b, t, 0] - mu1) / s1, (s[b, t, 1] - mu2) / s2
            z = z1 ** 2 + z2 ** 2 - 2 * rho * z1 * z2
            n2 = np.exp(-z / (2 * (1 - rho ** 2))) / (2 * np.pi * s1 * s2 * np.sqrt(1 - rho ** 2))
            e = _sig(y[6 * M])
            out[b] -= np.log((pi * n2).sum()) + (np.log(e) if s[b, t, 2] else np.log(1 - e))
    return out


@pytest.mark.parametrize("task", ["prediction", "synthesis"])
def test_shapes_and_numpy_reference(task):
    cfg = tiny(task)
    params = hw.init(jax.random.PRNGKey(0), cfg)
    batch = rand_batch(lengths=[10, 7, 4])
    per_line, (raw, aux) = nll(params, cfg, batch)
    assert per_line.shape == (3,) and raw.shape == (3, 10, 6 * 3 + 1)
    if task == "synthesis":
        assert aux["phi"].shape == (3, 10, 4) and aux["window"].shape == (3, 10, 5)
        assert aux["kappa"].shape == (3, 10, 2)
    np.testing.assert_allclose(per_line, numpy_nll(params, cfg, batch), rtol=2e-4, atol=2e-4)


def test_kappa_monotonic_and_padding_invariance():
    cfg = tiny("synthesis")
    params = init_np(cfg, 1)
    batch = rand_batch(lengths=[10, 6, 3])
    per_line, (_, aux) = nll(params, cfg, batch)
    kappa = np.asarray(aux["kappa"])
    assert (np.diff(kappa[0], axis=0) > 0).all()          # eq 51: the window only moves forward
    # garbage in padded points and a longer padded text must not change anything
    b2 = {k: np.array(v) for k, v in batch.items()}
    b2["strokes"][1, 6:] = 123.0
    b2["strokes"][2, 3:] = -7.0
    b2["strokes"] = np.concatenate([b2["strokes"], np.full((3, 5, 3), 9.0, np.float32)], 1)
    b2["mask"] = np.concatenate([b2["mask"], np.zeros((3, 5), np.float32)], 1)
    b2["text"] = np.concatenate([b2["text"], np.full((3, 3), -1, np.int32)], 1)
    b2["text_mask"] = (b2["text"] >= 0).astype(np.float32)
    per_line2, _ = nll(params, cfg, b2)
    np.testing.assert_allclose(per_line2, per_line, rtol=1e-5)


@pytest.mark.slow
def test_finite_difference_gradient_synthesis(x64):
    cfg = tiny("synthesis", hidden=4, n_mix=2)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64),
                                    init_np(cfg, 2))
    batch = {k: (jnp.asarray(v, jnp.float64) if v.dtype == np.float32 else jnp.asarray(v))
             for k, v in rand_batch(B=2, T=6, lengths=[6, 4]).items()}
    loss = hw.make_loss(cfg)
    vg = jax.jit(jax.value_and_grad(lambda p: loss(p, batch, jax.random.PRNGKey(0), 0)[0]))
    f = lambda p: vg(p)[0]                                  # one compile serves both sides
    g = vg(params)[1]
    leaves, tree = jax.tree_util.tree_flatten(params)
    rng = np.random.default_rng(0)
    d = jax.tree_util.tree_unflatten(tree, [jnp.asarray(rng.normal(size=l.shape)) for l in leaves])
    eps = 1e-3  # the cells compute gates in float32 even under x64; central differences err O(eps^2)
    plus = jax.tree_util.tree_map(lambda a, b: a + eps * b, params, d)
    minus = jax.tree_util.tree_map(lambda a, b: a - eps * b, params, d)
    fd = (f(plus) - f(minus)) / (2 * eps)
    an = sum(float((a * b).sum()) for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(d)))
    assert abs(fd - an) < 2e-3 * max(1.0, abs(an)), (fd, an)
    # the window weights get gradient (the text actually conditions the loss)
    assert float(jnp.abs(g["window"]["w"]).sum()) > 0


def test_scheduled_sampling_loss_runs_and_eps1_is_teacher_forcing():
    cfg = tiny("prediction")
    params = init_np(cfg, 0)
    batch = rand_batch()
    tf = float(nll(params, cfg, batch)[0].sum()) / float(batch["mask"].sum())
    ss1, m = loss_fn(params, cfg, batch, jax.random.PRNGKey(3), 1.0)   # eps traced: one compile
    ss0, _ = loss_fn(params, cfg, batch, jax.random.PRNGKey(3), 0.0)
    np.testing.assert_allclose(ss1, tf, rtol=1e-5)                       # loss = NLL per point
    np.testing.assert_allclose(m["nll_line"], float(nll(params, cfg, batch)[0].mean()), rtol=1e-5)
    assert np.isfinite(ss0) and abs(float(ss0) - float(tf)) > 1e-4
    # the trainer's loss takes eps from the step through eps_fn (no batch column)
    loss = jax.jit(hw.make_loss(cfg, lambda step: jnp.where(step < 5, 1.0, 0.0)))
    np.testing.assert_allclose(loss(params, batch, jax.random.PRNGKey(3), 0)[0], ss1, rtol=1e-6)
    np.testing.assert_allclose(loss(params, batch, jax.random.PRNGKey(3), 9)[0], ss0, rtol=1e-6)


# ------------------------------------------------------------------------------------------ sampling
def _sample_args(cfg, n, U=6, seed=0):
    rng = np.random.default_rng(seed)
    texts = np.full((n, U), -1, np.int32)
    for i in range(n):
        L = 2 + i % 3
        texts[i, :L] = rng.integers(0, cfg.vocab, L)
    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    return (keys, jnp.asarray(texts), jnp.linspace(0.0, 1.0, n), jnp.ones((n,)),
            jnp.zeros((n, 0, 3)), jnp.zeros((n,), jnp.int32))


def test_batch_sampling_deterministic_independent_and_matches_reference():
    cfg = tiny("synthesis")
    params = init_np(cfg, 0)
    args = _sample_args(cfg, 3)
    s1, l1, p1 = hw_sample.sample_batch(params, cfg, *args, max_steps=25)
    s2, l2, p2 = hw_sample.sample_batch(params, cfg, *args, max_steps=25)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(p1, p2)
    assert s1.shape == (3, 25, 3) and p1.shape == (3, 25, 6)
    # lines are independent: permuting the batch permutes the lines (same shapes, no recompile)
    perm = np.array([2, 0, 1])
    sp, lp, _ = hw_sample.sample_batch(params, cfg, *[a[perm] for a in args], max_steps=25)
    np.testing.assert_allclose(sp, np.asarray(s1)[perm], atol=1e-5)
    np.testing.assert_array_equal(lp, np.asarray(l1)[perm])
    # the fast step (stacked weights, ids window, unnormalised pick) gives the plain step's samples
    sr, lr, pr = hw_sample.sample_batch(params, cfg, *args, max_steps=25, fast=False)
    np.testing.assert_allclose(s1, sr, atol=1e-5)
    np.testing.assert_allclose(p1, pr, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(l1, lr)
    for i in range(3):  # zero past each line's end
        assert not np.asarray(s1[i, int(l1[i]):]).any()


def test_one_cell_layouts_agree():
    """The window cell stepped with the plain and the stacked layout (sampling) gives what the
    teacher-forced training scan gives, step by step."""
    cfg = tiny("synthesis")
    params = init_np(cfg, 3)
    batch = rand_batch(B=2, T=6, lengths=[6, 6])
    _, (raw, aux) = nll(params, cfg, batch)
    xs = np.asarray(hw.shift_inputs(jnp.asarray(batch["strokes"])))
    chars = hw.one_hot_text(jnp.asarray(batch["text"]), cfg.vocab)
    step = jax.jit(hw.step, static_argnums=2)
    for fast in (False, True):
        sws = hw.step_weights(params, cfg, fast)
        text = jnp.asarray(batch["text"]) if fast else (chars, jnp.asarray(batch["text_mask"]))
        state = hw.zero_state(cfg, 2)
        for t in range(6):
            state, r, phi = step(params, sws, cfg, state, xs[:, t], text)
            np.testing.assert_allclose(r, raw[:, t], rtol=1e-4, atol=1e-5)
            u = batch["text"].shape[1]
            np.testing.assert_allclose(phi[:, :u] * batch["text_mask"], aux["phi"][:, t], rtol=1e-4, atol=1e-6)


def test_stopping_rule_and_tail():
    """Graves' rule stops a line once the window is past the text; with ``stop_tail`` the line goes on
    to the next pen lift (at most ``stop_tail`` points)."""
    cfg = tiny("synthesis")
    params = init_np(cfg, 0)
    K, M = cfg.n_gauss, cfg.n_mix
    copy = lambda t: jax.tree_util.tree_map(np.array, t)   # numpy edits: no eager jax op to compile
    fast = copy(params)
    fast["window"]["b"][2 * K:] = 1.0                      # kappa step e * 0.3 ~ 0.8 chars
    for layer in fast["layers"]:  # pen lifts do not steer the net, so both pen variants stop alike
        layer["wx"][2] = 0.0
    pen_up, pen_down, slow = copy(fast), copy(fast), copy(params)
    pen_up["out"]["b"][6 * M] = -30.0                      # never lifts the pen
    pen_down["out"]["b"][6 * M] = 30.0                     # lifts it at every point
    slow["window"]["w"][:] = 0.0
    slow["window"]["b"][2 * K:] = -10.0                    # the window never moves
    args = _sample_args(cfg, 3)
    # stop_tail=0 has the shapes of the test above: the compiled sampler is reused
    s0, l0, _ = hw_sample.sample_batch(pen_up, cfg, *args, max_steps=25)
    _, ls, _ = hw_sample.sample_batch(slow, cfg, *args, max_steps=25)
    st, lt, _ = hw_sample.sample_batch(pen_up, cfg, *args, max_steps=25, stop_tail=4)
    _, ld, _ = hw_sample.sample_batch(pen_down, cfg, *args, max_steps=25, stop_tail=4)
    l0, lt, ld = np.asarray(l0), np.asarray(lt), np.asarray(ld)
    text_len = np.asarray((args[1] >= 0).sum(1))
    assert (l0 <= 21).all() and (l0 >= text_len).all()
    assert (np.asarray(ls) == 25).all()
    np.testing.assert_array_equal(lt, l0 + 4)       # pen never lifts: the tail runs to its cap
    np.testing.assert_array_equal(ld, l0)           # pen lifts at once: stops where the rule fired
    for i in range(3):                               # the tail only appends points
        np.testing.assert_array_equal(st[i, :l0[i]], s0[i, :l0[i]])
    assert hw_sample.default_stop_tail(cfg) == 7
    assert hw_sample.default_stop_tail(tiny("prediction")) == hw_sample.PREDICTION_TAIL


def _cli_cfg_and_charset():
    """The tiny synthesis setup shared by the generate tests (same shapes: one compiled sampler)."""
    return tiny("synthesis", vocab=6), Charset("abcd ")


def test_generate_with_prime_and_prediction():
    cfg, cs = _cli_cfg_and_charset()
    params = init_np(cfg, 0)
    prime = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="not in the model's charset"):
        lines, phis = hw_sample.generate(params, cfg, cs, ["ab", "dxc"], primes=[None, (prime, "cab")],
                                         max_steps=30)
    assert len(lines) == 2 and all(l.shape[1] == 3 and len(l) <= 30 for l in lines)
    assert phis[1].shape[1] == len("cab dxc") + 1 and phis[0].shape[1] == len("ab") + 1
    pcfg = tiny("prediction")
    lines, _ = hw_sample.generate(init_np(pcfg, 0), pcfg, None, ["", ""],
                                  max_steps=15)
    # a prediction line runs max_steps points, then on to its next pen-up (within the tail), and
    # ends with the pen up
    assert all(15 <= len(l) <= 15 + hw_sample.PREDICTION_TAIL and l[-1, 2] == 1 for l in lines)
    # one set of sampling defaults: generate, the Hand facade and the script all use these
    import inspect
    for fn in (hw_sample.generate, handwriting.Hand.write):
        sig = inspect.signature(fn).parameters
        assert sig["bias"].default == handwriting.BIAS == 1.0 and sig["temperature"].default == 1.0


# ------------------------------------------------------------------------------------------- charset
def test_charset_unknown_and_json():
    cs = Charset.build(["hello world", "held"], min_count=2)
    assert set(cs.chars[1:]) == {"h", "e", "l", "o", "d"}
    with pytest.warns(UserWarning, match=r"'w', 'x'"):
        ids = cs.encode("hex w")
    assert ids[2] == cs.unknown_id and ids[4] == cs.unknown_id and ids[0] == cs.index["h"]
    cs2 = Charset.from_json(json.loads(json.dumps(cs.to_json())))
    assert cs2.chars == cs.chars
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(cs2.encode("hole"), cs.encode("hole"))
        ids, mask = encode_batch(cs, ["he", "lol"], 4)
    assert ids.tolist() == [[cs.index["h"], cs.index["e"], -1, -1], list(cs.encode("lol")) + [-1]]
    assert mask.sum() == 5


# --------------------------------------------------------------------------------------------- train
@pytest.mark.slow
def test_overfit_one_batch():
    from jaxseq.training import loop as train
    cfg = tiny("synthesis", hidden=16)
    params = init_np(cfg, 0)
    batch = rand_batch(B=2, T=12, seed=4)
    batch["strokes"][..., :2] *= 0.3
    opt = train.make_optimizer(train.TrainConfig(lr=1e-2, clip_norm=10.0))
    state = opt.init(params)
    step = train.make_train_step(hw.make_loss(cfg), opt)
    first = None
    for i in range(100):
        params, state, m = step(params, state, batch, jax.random.PRNGKey(i), i)
        first = float(m["loss"]) if first is None else first
    last = float(m["loss"])
    assert last < first - 1.5, (first, last)


def _save_tiny(path, cfg, cs, primes=()):
    """A checkpoint as train saves it (params + meta), without training."""
    meta = hw_train.make_meta(cfg, 1.0, cs, 8, list(primes))
    ck = Checkpointer(path)
    ck.save(1, init_np(cfg, 0), None, meta=meta)
    ck.close()


def test_hand_from_checkpoint_writes_svg(tmp_path):
    """The facade on a fresh tiny checkpoint: style priming, SVG, and the missing-checkpoint error."""
    cfg, cs = _cli_cfg_and_charset()
    prime = np.random.default_rng(0).normal(size=(9, 3)).round(3).tolist()
    _save_tiny(tmp_path / "ckpt", cfg, cs, [{"text": "dab", "writer": "w0", "strokes": prime}])
    hand = handwriting.load(tmp_path / "ckpt")
    assert hand.config == cfg and hand.charset.chars == cs.chars
    lines = hand.write(["abc", "abc"], style=0, max_steps=30)
    out = hand.save_svg(lines, tmp_path / "hello.svg")
    assert len(lines) == 2 and "<path" in open(out).read()
    with pytest.raises(ValueError, match="holds 1 priming lines"):
        hand.write("abc", style=3)
    with pytest.raises(DataError, match="does not exist"):
        handwriting.load(tmp_path / "missing")


def _fake_run(path, cfg, metrics):
    """A run directory as train leaves it (params + meta per step) without training: params = step."""
    shapes = jax.eval_shape(lambda k: hw.init(k, cfg), jax.random.PRNGKey(0))
    meta = hw_train.make_meta(cfg, 1.0, Charset("abcd"), 8, [])
    ck = Checkpointer(path, best_metric="val_nll_point")
    for step, v in metrics.items():
        params = jax.tree_util.tree_map(lambda a: np.full(a.shape, step, np.float32), shapes)
        ck.save(step, params, None, meta=meta, metrics={"val_nll_point": v})
    ck.close()


def test_export_pick_and_step(tmp_path):
    """What the script's export does (checkpoint.export with the val_nll_point metric): latest by
    default, best, or one step, float16 kept in the copy."""
    run = tmp_path / "run"
    vals = {2: 0.5, 4: 0.3, 6: 0.4}
    _fake_run(run, tiny("synthesis"), vals)
    for kw, want in (({"pick": "latest"}, 6), ({"pick": "best"}, 4), ({"step": 2}, 2), ({}, 6)):
        out = tmp_path / f"x{len(kw)}_{want}"
        assert export(run, out, dtype="float16", best_metric="val_nll_point", **kw) == want
        params, meta = load_for_sampling(out, dtype=None)
        assert meta["step"] == want and meta["metrics"]["val_nll_point"] == vals[want]
        assert params["out"]["w"].dtype == np.float16 and float(params["out"]["w"].flat[0]) == want
    with pytest.raises(DataError, match=r"holds steps \[2, 4, 6\]"):
        export(run, tmp_path / "bad", step=3)


def test_init_from_checks(tmp_path):
    """init_from refuses another task, architecture settings that disagree, and another data scale."""
    src = tmp_path / "src"
    _fake_run(src, tiny("synthesis"), {7: 0.1})
    params, meta, step = hw_train.load_init_params(src)
    assert step == 7 and params["out"]["w"].dtype == np.float32
    like = jax.eval_shape(lambda k: hw.init(k, tiny("synthesis", hidden=9)), jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="parameter shapes differ"):
        hw_train.check_init_compatible(meta["config"], {}, params, like, "src")
    hw_train.check_init_compatible(meta["config"], {"hidden": 8, "task": "synthesis"}, params, params)
    arch = lambda **kw: {**hw_train.ARCH_DEFAULTS, **kw}
    hw_train.init_source(src, arch(), 1.0)                 # defaults: the checkpoint decides
    with pytest.raises(ValueError, match="hidden: checkpoint has 8, this run asks for 16.*n_mix"):
        hw_train.init_source(src, arch(hidden=16, n_mix=5), 1.0)
    with pytest.raises(ValueError, match="task: checkpoint has 'synthesis'"):
        hw_train.init_source(src, arch(task="prediction"), 1.0)
    with pytest.raises(DataError, match="scale"):
        hw_train.init_source(src, arch(), 2.0)
    with pytest.raises(DataError, match="no checkpoint"):
        hw_train.init_source(tmp_path / "empty", arch(), 1.0)


def test_run_setup_rules():
    """The kappa rule (characters per point), the text bucket and the line filter."""
    lines = iam.synthetic_lines(20, seed=1)
    train_pool, val_pool = hw_train.pools(lines, 40, synthesis=True)
    assert not set(train_pool) & set(val_pool) and all(len(lines.strokes[i]) <= 40 for i in train_pool)
    k = hw_train.kappa_scale_from_data(lines, train_pool)
    assert np.isclose(k, np.mean([len(lines.texts[i]) for i in train_pool]) /
                      np.mean([len(lines.strokes[i]) for i in train_pool]))
    assert hw_train.text_bucket(9) == 16 and hw_train.text_bucket(8) == 8
    cfg, cs = hw_train.read_meta(json.loads(json.dumps(hw_train.make_meta(tiny("synthesis"), 1.0,
                                                                          Charset("ab"), 8, []))))
    assert cfg == tiny("synthesis") and cs.chars == Charset("ab").chars


@pytest.mark.slow
def test_train_export_and_init_from(tmp_path):
    """End to end on a tiny synthetic run: train, export --pick latest|best|step; a new run initialised
    from the export (lr 0 keeps the params: proves they were loaded) refuses mismatched settings, and
    the result writes an SVG."""
    lines = iam.synthetic_lines(48)
    arch = {**hw_train.ARCH_DEFAULTS, "hidden": 8, "layers": 2, "n_mix": 2, "n_gauss": 2, "unroll": 1}
    arch.pop("vocab")
    st = hw_train.TrainSettings(steps=6, batch_size=8, max_len=40, min_char_count=1, progress=False,
                                samples=0, log_every=2, eval_batches=1, warmup=0, eval_every=2, ckpt_every=2)
    run, run2 = tmp_path / "run", tmp_path / "run2"
    hw_train.train(arch, st, lines, run)
    src = Checkpointer(run, best_metric="val_nll_point")
    latest, best, steps = src.latest_step(), src.best_step(), src.all_steps()
    src.close()
    assert latest == 6 and best in steps
    for kw, want in (({"pick": "latest"}, latest), ({"pick": "best"}, best), ({"step": 4}, 4)):
        out = tmp_path / f"x{want}_{list(kw.values())[0]}"
        export(run, out, dtype="float16", best_metric="val_nll_point", **kw)
        assert load_for_sampling(out)[1]["step"] == want
    exported = tmp_path / "x6_latest"
    st0 = dataclasses.replace(st, steps=2, eval_every=0, lr=0.0)
    hw_train.train(arch, st0, lines, run2, init_from=exported)
    p0, m0 = load_for_sampling(exported)
    ck2 = Checkpointer(run2)
    p2, _, m2 = ck2.restore(ck2.latest_step())
    ck2.close()
    assert m2["step"] == 2 and m2["init_from"] == {"dir": str(exported), "step": 6}
    assert m2["config"] == m0["config"] and m2["charset"] == m0["charset"]
    for a, b in zip(jax.tree_util.tree_leaves(p0), jax.tree_util.tree_leaves(p2)):
        np.testing.assert_array_equal(np.asarray(a, np.float32), b)
    with pytest.raises(ValueError, match="hidden: checkpoint has 8, this run asks for 16"):
        hw_train.train({**arch, "hidden": 16}, st0, lines, tmp_path / "run3", init_from=exported)
    with pytest.raises(ValueError, match="task: checkpoint has 'synthesis'"):
        hw_train.train({**arch, "task": "prediction"}, st0, lines, tmp_path / "run4", init_from=exported)
    hand = handwriting.load(run2)
    out = hand.save_svg(hand.write(["abc", "abc"], max_steps=30), tmp_path / "hello.svg")
    assert "<path" in open(out).read()


# ---------------------------------------------------------------------------- hostile arguments (API)
def _tiny_hand(params=None, primes=None):
    cfg, cs = _cli_cfg_and_charset()
    prime = {"text": "ab", "writer": "w", "strokes": [[0.1, 0.2, 0.0], [0.3, -0.1, 1.0]] * 3}
    meta = hw_train.make_meta(cfg, 1.0, cs, 16, [prime] if primes is None else primes)
    return handwriting.Hand(init_np(cfg, 0) if params is None else params, cfg, cs, meta, "ckpt/tiny")


def test_write_validates_arguments():
    hand = _tiny_hand()
    bad = [({"texts": ""}, "text '' is empty"), ({"texts": ["ab", "  "]}, "text '  ' is empty"),
           ({"texts": []}, "no texts"), ({"texts": None}, "needs texts"),
           ({"bias": -5}, "bias -5"), ({"bias": float("nan")}, "bias nan"),
           ({"temperature": 0}, "temperature 0"), ({"temperature": float("inf")}, "temperature inf"),
           ({"n": 0}, "n 0"), ({"n": -1}, "n -1"), ({"max_steps": -1}, "max_steps -1"),
           ({"max_steps": 0}, "max_steps 0"), ({"stop_tail": -2}, "stop_tail -2"),
           ({"style": 1}, r"style 1: the checkpoint holds 1 priming lines \(0..0\)"),
           ({"style": -1}, "style -1"), ({"batch_size": 0}, "batch_size 0"),
           ({"texts": "ab " * hand.max_chars}, rf"longer than one line can hold \({hand.max_chars} characters\)")]
    for kw, msg in bad:
        kw = {"texts": "ab", **kw}
        with pytest.raises(ValueError, match=msg):
            hand.write(kw.pop("texts"), **kw)
    pred = handwriting.Hand(init_np(tiny("prediction"), 0), tiny("prediction"), None, {}, "ckpt/p")
    with pytest.raises(ValueError, match="ckpt/p is a prediction network: .* cannot write 'hello'"):
        pred.write("hello", max_steps=5)
    with pytest.raises(ValueError, match="synthesis"):
        pred.write(n=2, style=0)
    assert len(pred.write(n=3, max_steps=5)) == 3                          # no text: n lines


def test_write_in_batches_equals_one_call_and_wraps_long_text():
    hand = _tiny_hand()
    texts = ["ab", "abc d", "dcba"]
    one = hand.write(texts, n=5, max_steps=12, seed=3)
    batched = hand.write(texts, n=5, max_steps=12, seed=3, batch_size=2, progress=False)
    assert len(one) == len(batched) == 5
    for a, b in zip(one, batched):                       # line i depends on (seed, i) only
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    text = " ".join(["abc", "dab", "cd"] * hand.max_chars)
    lines = hand.wrap(text)
    assert len(lines) > 1 and all(0 < len(l) <= hand.max_chars for l in lines)
    assert " ".join(lines) == text                        # every word, in order
    assert hand.check_texts(lines) == lines


def test_nan_params_are_refused_not_written(tmp_path):
    cfg, _ = _cli_cfg_and_charset()
    nan = jax.tree_util.tree_map(lambda a: np.full(a.shape, np.nan, np.float32), init_np(cfg, 0))
    with pytest.raises(DataError, match="sampling from ckpt/tiny produced non-finite points .* checkpoint "
                                        "may be corrupted"):
        _tiny_hand(nan).write("ab", max_steps=6)
    with pytest.raises(ValueError, match="non-finite"):
        handwriting.Hand.save_svg([np.array([[0.0, np.nan, 1.0]])], tmp_path / "x.svg")
    with pytest.raises(IndexError):                       # fails midway through writing the SVG
        handwriting.Hand.save_svg([np.zeros((3, 3))] * 2, tmp_path / "y.svg", titles=["only one"])
    assert list(tmp_path.iterdir()) == []                 # nothing half-written


def test_another_familys_checkpoint_is_named(tmp_path):
    ck = Checkpointer(tmp_path / "sk")
    ck.save(1, {"w": np.zeros(2, np.float32)}, meta={"model": "sketch_rnn", "config": {}})
    ck.close()
    with pytest.raises(DataError, match="sk is a Sketch-RNN checkpoint, not a handwriting synthesis one"):
        handwriting.load(tmp_path / "sk")
