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
from jaxseq.nn.attention import graves_window, window_size
from jaxseq.nn.cells import LSTM

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


def _dense(key, i, o):
    return {"w": jax.random.uniform(key, (i, o), jnp.float32, -1.0, 1.0) / jnp.sqrt(i),
            "b": jnp.zeros((o,), jnp.float32)}


def init(key, cfg: HWConfig):
    """Fresh params. Layer n reads [x, h_{n-1}, window] (eqs 44-45 / 47), the output reads all h (eq 18)."""
    keys = jax.random.split(key, cfg.layers + 2)
    layers = []
    for n in range(cfg.layers):
        in_dim = 3 + (cfg.hidden if n > 0 else 0) + cfg.win_dim
        layers.append(LSTM.init(keys[n], in_dim, cfg.hidden))
    params = {"layers": layers,
              "out": _dense(keys[-1], cfg.layers * cfg.hidden, mdn.bivariate_size(cfg.n_mix))}
    if cfg.synthesis:
        params["window"] = _dense(keys[-2], cfg.hidden, window_size(cfg.n_gauss))
    return params


def compute_params(params, cfg: HWConfig):
    """The params used for matmuls (bf16 copies under ``cfg.bf16``; gradients flow to the float32 ones)."""
    if not cfg.bf16:
        return params
    return jax.tree_util.tree_map(lambda a: a.astype(jnp.bfloat16), params)


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


def _fused_recurrent(p1, cfg):
    """Layer-1 weights for the per-step part [w_{t-1}, h_{t-1}] stacked so one matmul gives the gates."""
    return {"wh": jnp.concatenate([p1["wx"][3:], p1["wh"]], axis=0)}


def _layer1_window(cp, cfg, xs_t, mask_t, chars, char_mask, state):
    """Synthesis layer 1 + window, stepped together (time-major). xs_t: [T, B, 3].

    Returns (h1 [T,B,H], windows [T,B,V], phis [T,B,U], kappas [T,B,K], final (carry, kappa, w)).
    """
    p1 = cp["layers"][0]
    xp = jnp.dot(xs_t.astype(p1["wx"].dtype), p1["wx"][:3]) + p1["b"]   # hoisted x-part of eq 47
    rec = _fused_recurrent(p1, cfg)
    pw = cp["window"]

    def body(carry, inp):
        (h, c), kappa, w = carry
        x, m = inp
        # one matmul for the recurrent gates: [w_{t-1}, h_{t-1}] @ [W_w; W_h]
        (h_new, c_new), _ = LSTM.step_projected(rec, (jnp.concatenate([w, h], -1), c), x)
        raw = jnp.dot(h_new.astype(pw["w"].dtype), pw["w"]) + pw["b"]                    # eq 48
        w_new, k_new, phi = graves_window(raw, kappa, chars, char_mask,
                                          kappa_scale=cfg.kappa_scale)               # eqs 46-51
        keep = m[:, None] > 0
        new = ((jnp.where(keep, h_new, h), jnp.where(keep, c_new, c)),
               jnp.where(keep, k_new, kappa), jnp.where(keep, w_new, w))
        return new, (h_new * m[:, None], w_new * m[:, None], phi * m[:, None], k_new)

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
    po = cp["out"]
    hcat = jnp.concatenate(hs, -1)                                                  # eq 18 skips
    raw = jnp.dot(hcat.astype(po["w"].dtype), po["w"]) + po["b"]
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


def make_loss(cfg: HWConfig, eps_fn=None):
    """``loss(params, batch, key, step)`` for :func:`jaxseq.training.loop.fit`; ``eps_fn(step)`` (optional)
    is the teacher-forcing probability of scheduled sampling."""
    def loss(params, batch, key, step):
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
