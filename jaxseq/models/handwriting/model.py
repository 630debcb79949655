"""Graves (2013) handwriting networks as pure functions: the prediction network (§4) and the synthesis
network (§5), teacher-forced forward passes and the masked log-space loss.

Both are a stack of LSTMs with skip connections from the input to every layer and from every layer to the
mixture-density output (eqs 15-26: ``n_mix`` bivariate Gaussians plus an end-of-stroke Bernoulli). The
synthesis network adds the soft window over the one-hot text (eqs 46-51) computed from layer 1 and fed to
every layer.

Speed: a layer only needs the previous layer's outputs, so each layer is its own ``lax.scan`` with the input
projection hoisted out of the loop (one big matmul over all steps). In the synthesis net only layer 1 and
the window must be stepped together (the window at t feeds layer 1 at t+1); layers 2..L and the output are
then hoisted over the whole sequence as well.

Shapes: strokes ``[B, T, 3]`` (dx, dy, eos), masks ``[B, T]``, text ids ``[B, U]`` (padding -1), text
masks ``[B, U]``. Params: ``{"layers": [lstm params], "out": {w, b}, "window": {w, b}}`` (window only for
synthesis).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxseq.nn import mixtures as mdn
from jaxseq.nn import scan as rnn
from jaxseq.nn import teacher_forcing as scheduled_sampling
from jaxseq.nn.attention import graves_phi, graves_window, window_size
from jaxseq.nn.cells import LSTM, lstm_gates_step
from jaxseq.nn.layers import dense, dense_init
from jaxseq.nn.precision import cast_params, get_policy

TASKS = ("prediction", "synthesis")


@dataclasses.dataclass(frozen=True)
class HWConfig:
    task: str = "prediction"       # prediction | synthesis
    hidden: int = 400              # LSTM units per layer (Graves: 400 prediction, 400 synthesis)
    layers: int = 3
    n_mix: int = 20                # bivariate mixture components (Graves: 20)
    n_gauss: int = 10              # window Gaussians (Graves: 10)
    vocab: int = 0                 # charset size (synthesis)
    kappa_scale: float = 0.05      # divides the window's step (eq 51) ~ 1 / (points per character)
    unroll: int = 1                # lax.scan unroll factor
    bf16: bool = False             # bf16 matmuls, float32 state, gates and loss

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {TASKS}")
        if self.task == "synthesis" and self.vocab <= 0:
            raise ValueError("the synthesis network needs vocab > 0 (the charset size)")

    @property
    def synthesis(self) -> bool:
        return self.task == "synthesis"

    @property
    def win_dim(self) -> int:
        return self.vocab if self.synthesis else 0


def init(key, cfg: HWConfig):
    """Fresh params. Layer n reads [x, h_{n-1}, window] (eqs 44-45 / 47), the output reads all h (eq 18)."""
    keys = jax.random.split(key, cfg.layers + 2)
    layers = []
    for n in range(cfg.layers):
        in_dim = 3 + (cfg.hidden if n > 0 else 0) + cfg.win_dim
        layers.append(LSTM.init(keys[n], in_dim, cfg.hidden))
    params = {"layers": layers,
              "out": dense_init(keys[-1], cfg.layers * cfg.hidden, mdn.bivariate_size(cfg.n_mix))}
    if cfg.synthesis:
        params["window"] = dense_init(keys[-2], cfg.hidden, window_size(cfg.n_gauss))
    return params


def compute_params(params, cfg: HWConfig):
    """The params used for matmuls (bf16 copies under ``cfg.bf16``; gradients flow to the float32 ones)."""
    return cast_params(params, get_policy("bfloat16")) if cfg.bf16 else params


def zero_state(cfg: HWConfig, batch, dtype=jnp.float32):
    """Initial recurrent state: LSTM carries, window position kappa [B, K] and last window [B, V]."""
    z = lambda n: jnp.zeros((batch, n), dtype)
    st = {"layers": [(z(cfg.hidden), z(cfg.hidden)) for _ in range(cfg.layers)]}
    if cfg.synthesis:
        st["kappa"], st["w"] = z(cfg.n_gauss), z(cfg.vocab)
    return st


def one_hot_text(ids, vocab):
    """ids [B, U] (-1 padding) -> [B, U, V]; padding is the zero vector."""
    return jax.nn.one_hot(ids, vocab, dtype=jnp.float32)


# ------------------------------------------------------------------------------------- the one cell
# Training and sampling step the same cell. A layer's pre-activation x W_x + h W_h + b is split at input
# row k: the first k input columns are projected apart (``xp``; training hoists that matmul out of the
# time loop) and the rest are stacked on W_h, so the per-step part is one matmul [inputs, h] @ W.
def split_weights(p, k):
    """LSTM layer params for :func:`lstm_cell`: ``wx`` [k, 4H] and ``b`` for the part projected apart,
    ``w`` = [W_x[k:]; W_h] for the per-step matmul. Built once, outside any time loop."""
    return {"wx": p["wx"][:k], "b": p["b"], "w": jnp.concatenate([p["wx"][k:], p["wh"]], 0)}


def project(sp, x):
    """The part of the pre-activation projected apart: ``x [..., k] @ wx + b``."""
    return jnp.dot(x.astype(sp["wx"].dtype), sp["wx"]) + sp["b"]


def lstm_cell(sp, carry, xp, inputs):
    """One LSTM step (Graves eqs 7-11): gates = ``xp`` + [*inputs, h_{t-1}] @ ``sp["w"]``."""
    h, c = carry
    z = jnp.concatenate([*inputs, h], -1)
    return lstm_gates_step(sp, c, xp + jnp.dot(z.astype(sp["w"].dtype), sp["w"]))


def window_vector(phi, ids, vocab):
    """Eq 47 from ids instead of a one-hot [B, U, V]: w_v = sum_u phi_u [id_u == v], one fused
    compare-and-reduce (padding -1 matches nothing). Returns [B, V]."""
    hit = ids[:, :, None] == jnp.arange(vocab, dtype=ids.dtype)                # [B, U, V], fused
    return jnp.where(hit, phi[:, :, None], 0.0).sum(1)


def read_window(cfg: HWConfig, raw, kappa, text):
    """Eqs 46-51. ``text``: ``(one-hot chars [B, U, V], char mask [B, U])`` (phi masked), or ids
    [B, U] (-1 padding; phi unmasked, so phi one past the text is there for the stopping rule).
    Returns ``(window [B, V], kappa [B, K], phi [B, U])``."""
    if isinstance(text, tuple):
        return graves_window(raw, kappa, *text, kappa_scale=cfg.kappa_scale)
    phi, kappa = graves_phi(raw, kappa, text.shape[1], kappa_scale=cfg.kappa_scale)
    return window_vector(phi, text, cfg.vocab), kappa, phi


def window_cell(sp, pw, cfg: HWConfig, carry, xp, text, inputs=()):
    """Synthesis layer 1 and the window, one step: the cell of training and of sampling alike.

    carry: ``((h, c), kappa [B, K], w [B, V])``; ``sp`` from :func:`split_weights` (layer 1 reads
    [``inputs``, w_{t-1}] in its per-step matmul; ``xp`` holds the rest, e.g. the hoisted x-part of eq 47);
    ``pw``: the window's dense params (eq 48). Returns ``(carry, (h, phi))``.
    """
    hc, kappa, w = carry
    hc, h = lstm_cell(sp, hc, xp, [*inputs, w])
    w, kappa, phi = read_window(cfg, dense(pw, h), kappa, text)
    return (hc, kappa, w), (h, phi)


def step_weights(cp, cfg: HWConfig, fast=True):
    """Per-layer :func:`split_weights` for :func:`step`. ``fast``: everything stacked (k = 0, one matmul
    per layer per step); else the plain layout (inputs @ W_x, then h @ W_h; layer 1 as in training)."""
    out = []
    for n, p in enumerate(cp["layers"]):
        k = 0 if fast else p["wx"].shape[0] - (cfg.win_dim if n == 0 else 0)
        out.append(split_weights(p, k))
    return out


def step(cp, sws, cfg: HWConfig, state, x, text=None):
    """One step of the whole network (sampling). x: [B, 3]; ``sws`` from :func:`step_weights`; ``text``
    as in :func:`read_window`. Returns ``(state, raw [B, 6M+1], phi [B, U] or None)``."""
    layers, hs, phi, h, w = [], [], None, None, None
    for n, sp in enumerate(sws):
        parts = [x] + ([h] if n > 0 else []) + ([w] if cfg.synthesis and n > 0 else [])
        xin = jnp.concatenate(parts, -1)
        k = sp["wx"].shape[0]
        xp, rest = project(sp, xin[:, :k]), [xin[:, k:]]
        if n == 0 and cfg.synthesis:
            (carry, kappa, w), (h, phi) = window_cell(sp, cp["window"], cfg,
                                                      (state["layers"][0], state["kappa"], state["w"]),
                                                      xp, text, rest)
        else:
            carry, h = lstm_cell(sp, state["layers"][n], xp, rest)
        layers.append(carry)
        hs.append(h)
    raw = dense(cp["out"], jnp.concatenate(hs, -1))
    new = {"layers": layers}
    if cfg.synthesis:
        new["kappa"], new["w"] = kappa, w
    return new, raw.astype(jnp.float32), phi


# ------------------------------------------------------------------------------------------ training
def _layer1_window(cp, cfg, xs_t, mask_t, chars, char_mask, state):
    """Synthesis layer 1 + window stepped together (time-major; the x-part of layer 1 hoisted).
    xs_t: [T, B, 3]. Returns (h1 [T,B,H], windows [T,B,V], phis [T,B,U], kappas [T,B,K], final carry).
    """
    sp = split_weights(cp["layers"][0], 3)
    xp = project(sp, xs_t)                                           # hoisted x-part of eq 47

    def body(carry, inp):
        xp_t, m = inp
        new, (h, phi) = window_cell(sp, cp["window"], cfg, carry, xp_t, (chars, char_mask))
        keep = m[:, None] > 0                                   # padded steps keep the old carry
        kept = jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new, carry)
        return kept, (h * m[:, None], new[2] * m[:, None], phi * m[:, None], new[1])

    carry0 = (state["layers"][0], state["kappa"], state["w"])
    final, (h1, ws, phis, kappas) = jax.lax.scan(body, carry0, (xp, mask_t), unroll=cfg.unroll)
    return h1, ws, phis, kappas, final


def forward(params, cfg: HWConfig, xs, mask=None, text=None, text_mask=None, state=None):
    """Teacher-forced pass. xs: [B, T, 3] inputs (x_t predicts x_{t+1}).

    Returns ``(raw [B, T, 6M+1], aux, final_state)``; ``aux`` holds ``phi [B,T,U]``, ``window [B,T,V]``,
    ``kappa [B,T,K]`` for the synthesis net (empty for prediction).
    """
    B, T = xs.shape[:2]
    cp = compute_params(params, cfg)
    mask = jnp.ones((B, T)) if mask is None else mask
    dtype = params["out"]["w"].dtype        # float32 (float64 in gradient tests)
    state = zero_state(cfg, B, dtype) if state is None else state
    xs_t = jnp.swapaxes(xs, 0, 1).astype(dtype)
    mask_t = jnp.swapaxes(mask, 0, 1)
    aux, finals, hs = {}, [], []
    ws, h = None, None
    if cfg.synthesis:
        chars = one_hot_text(text, cfg.vocab)
        tmask = (text >= 0).astype(jnp.float32) if text_mask is None else text_mask
        h, ws, phis, kappas, (c1, kappa, w) = _layer1_window(cp, cfg, xs_t, mask_t, chars, tmask, state)
        finals.append(c1)
        hs.append(h)
        aux = {"phi": jnp.swapaxes(phis, 0, 1), "window": jnp.swapaxes(ws, 0, 1),
               "kappa": jnp.swapaxes(kappas, 0, 1)}
    for n in range(len(hs), cfg.layers):
        parts = [xs_t] + ([h] if n > 0 else []) + ([ws] if ws is not None else [])
        inp = jnp.concatenate(parts, -1) if len(parts) > 1 else xs_t
        h, f = rnn.run(LSTM, cp["layers"][n], inp, mask=mask_t, carry=state["layers"][n],
                       time_major=True, unroll=cfg.unroll)                         # hoisted projection
        finals.append(f)
        hs.append(h)
    raw = dense(cp["out"], jnp.concatenate(hs, -1))                                  # eq 18 skips
    final = {"layers": finals}
    if cfg.synthesis:
        final["kappa"], final["w"] = kappa, w
    return jnp.swapaxes(raw, 0, 1).astype(dtype), aux, final


def shift_inputs(strokes):
    """Inputs for next-point prediction: [0, x_0, ..., x_{T-2}] so that output t predicts x_t."""
    return jnp.concatenate([jnp.zeros_like(strokes[:, :1]), strokes[:, :-1]], axis=1)


def nll(params, cfg: HWConfig, batch, inputs=None):
    """Per-line NLL [B] in nats (eqs 26/55, masked) and the aux of the forward pass."""
    strokes, mask = batch["strokes"], batch["mask"]
    xs = shift_inputs(strokes) if inputs is None else inputs
    raw, aux, _ = forward(params, cfg, xs, mask, batch.get("text"), batch.get("text_mask"))
    p = mdn.split_bivariate(raw, cfg.n_mix)
    return mdn.stroke_nll(p, strokes, mask), (raw, aux)


def _scheduled_inputs(params, cfg, batch, key, eps):
    """Parallel scheduled sampling (Bengio et al. 2015 with the two-pass trick of Duckworth et al. 2019):
    a teacher-forced pass without gradient predicts every point; each input point is then the truth with
    probability ``eps`` and the model's own sample otherwise. Keeps every layer a hoisted scan."""
    strokes = batch["strokes"].astype(jnp.float32)
    _, (raw, _) = nll(jax.lax.stop_gradient(params), cfg, batch)
    k1, k2 = jax.random.split(key)
    xy, eos = mdn.sample_bivariate(k1, mdn.split_bivariate(jax.lax.stop_gradient(raw), cfg.n_mix))
    pred = jnp.concatenate([xy, eos[..., None]], -1)                  # pred[:, t] ~ x_t
    B, T = strokes.shape[:2]
    mixed = scheduled_sampling.mix(k2, eps, strokes.reshape(B * T, 3), pred.reshape(B * T, 3))
    return shift_inputs(mixed.reshape(B, T, 3))


def add_weight_noise(params, key, std):
    """Every weight matrix plus Gaussian noise of ``std`` (biases untouched): fixed weight noise, a
    simpler form of Graves' adaptive weight noise (§4), regularising a network that overfits in NLL.
    Gradients flow to the clean params."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    noisy = [w + std * jax.random.normal(k, w.shape, w.dtype) if w.ndim >= 2 else w
             for w, k in zip(leaves, keys)]
    return jax.tree_util.tree_unflatten(tree, noisy)


def make_loss(cfg: HWConfig, eps_fn=None, weight_noise=0.0):
    """``loss(params, batch, key, step)`` for :func:`jaxseq.training.loop.fit`; ``eps_fn(step)`` (optional)
    is the teacher-forcing probability of scheduled sampling; ``weight_noise`` > 0 perturbs the weights
    at every call (:func:`add_weight_noise`; for the training loss only, not for evaluation)."""
    def loss(params, batch, key, step):
        if weight_noise > 0:
            key, k_noise = jax.random.split(key)
            params = add_weight_noise(params, k_noise, weight_noise)
        return loss_fn(params, cfg, batch, key, ss_eps=None if eps_fn is None else eps_fn(step))
    return loss


def loss_fn(params, cfg: HWConfig, batch, key, ss_eps=None):
    """Mean NLL per point (the training objective) and metrics in nats per line and per point.

    ``ss_eps`` (scalar, may be traced): teacher-forcing probability for scheduled sampling; None = 1.
    """
    inputs = None if ss_eps is None else _scheduled_inputs(params, cfg, batch, key, ss_eps)
    per_line, _ = nll(params, cfg, batch, inputs)
    mask = batch["mask"]
    n_points = jnp.maximum(mask.sum(), 1.0)
    loss = per_line.sum() / n_points
    return loss, {"nll_line": per_line.mean(), "nll_point": loss}
