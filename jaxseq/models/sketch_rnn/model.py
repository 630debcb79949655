"""Sketch-RNN (Ha & Eck 2017, "A Neural Representation of Sketch Drawings"): a sequence VAE over
stroke-5 sketches, and its unconditional (decoder-only) variant.

Encoder: bidirectional LSTM over the sketch -> ``h = [h_fw; h_bw]`` -> ``mu``, ``sigma_hat``,
``z = mu + exp(sigma_hat / 2) * eps`` (eqs 1-2). Decoder: LSTM with ``[h0; c0] = tanh(W z + b)`` (eq 3),
input ``[S_{t-1}; z]`` at every step, output ``y_t`` -> 20-component bivariate mixture + 3-way pen softmax
(eqs 4-6). Loss: ``Lr + w_KL * eta_step * max(L_KL, KL_min)`` with ``eta_step = 1 - (1 - eta_min) R^step``
(eqs 9-12, sec. 3.3).

The annealing step is the trainer's step argument (``loss_fn(params, batch, key, step)``).
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from jaxseq.nn import layers
from jaxseq.nn import mixtures as mdn
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import LSTM
from jaxseq.nn.precision import cast_params, get_policy
from jaxseq.training.schedules import kl_anneal


@dataclasses.dataclass(frozen=True)
class SketchConfig:
    conditional: bool = True
    enc_size: int = 256          # per direction
    dec_size: int = 512
    z_size: int = 128
    n_mix: int = 20
    max_len: int = 250           # Nmax
    layer_norm: bool = True      # on the decoder LSTM (the paper's best models use LN-LSTM / HyperLSTM)
    rec_dropout: float = 0.1     # recurrent dropout (drop rate) on the decoder's candidate
    w_kl: float = 0.5
    kl_min: float = 0.2          # "KL tolerance" of the paper
    eta_min: float = 0.01
    kl_decay: float = 0.99995    # R
    compute_dtype: str = "float32"   # "bfloat16": matmuls in bf16, losses in float32
    enc_fused: bool = True       # both encoder directions in one scan (vmap), see encode()
    unroll: int = 1              # lax.scan unroll (fewer loop iterations on GPU)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def init(key, cfg: SketchConfig):
    """Params pytree (dict). Unconditional models have no encoder and no z path."""
    ks = jax.random.split(key, 5)
    dense = lambda k, n_in, n_out: layers.dense_init(k, n_in, n_out, init="normal")   # N(0, 1/n_in)
    dec_in = 5 + (cfg.z_size if cfg.conditional else 0)
    p = {"dec": LSTM.init(ks[0], dec_in, cfg.dec_size, layer_norm=cfg.layer_norm),
         "out": dense(ks[1], cfg.dec_size, mdn.bivariate_size(cfg.n_mix, 3))}
    if cfg.conditional:
        p["enc"] = rnn.bidirectional_init(LSTM, ks[2], 5, cfg.enc_size)
        p["latent"] = dense(ks[3], 2 * cfg.enc_size, 2 * cfg.z_size)   # -> [mu; sigma_hat]
        p["init"] = dense(ks[4], cfg.z_size, 2 * cfg.dec_size)         # -> [h0; c0]
    return p


def encode(params, cfg, x, length):
    """x: [B, Nmax, 5] (no start token), length: [B] -> (mu, sigma_hat), each [B, Nz]."""
    mask = (jnp.arange(x.shape[1])[None, :] < length[:, None]).astype(jnp.float32)
    if cfg.enc_fused:
        # The backward pass is a forward pass over each sketch reversed within its length, so both
        # directions run as one vmapped scan: half the sequential loop iterations of run_bidirectional.
        both = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), params["enc"]["fw"],
                                      params["enc"]["bw"])
        xs = jnp.stack([x, rnn.reverse_padded(x, length)])
        run = lambda p, xx: rnn.run(LSTM, p, xx, mask=mask, unroll=cfg.unroll)[1]
        hf, _ = jax.vmap(run)(both, xs)
        h = jnp.concatenate([hf[0], hf[1]], -1)
    else:
        _, (ff, fb) = rnn.run_bidirectional(LSTM, params["enc"], x, mask=mask, unroll=cfg.unroll)
        h = jnp.concatenate([ff[0], fb[0]], -1)
    out = layers.dense(params["latent"], h).astype(jnp.float32)
    return jnp.split(out, 2, axis=-1)


def initial_state(params, cfg, z, batch):
    """Decoder carry (h0, c0): tanh(W z + b) for the VAE (eq 3), zeros for the unconditional model."""
    if not cfg.conditional:
        return LSTM.zeros(batch, cfg.dec_size)
    hc = jnp.tanh(layers.dense(params["init"], z).astype(jnp.float32))
    h0, c0 = jnp.split(hc, 2, axis=-1)
    return (h0, c0)


def decoder_inputs(cfg, s_prev, z):
    """s_prev: [B, T, 5], z: [B, Nz] or None -> [B, T, 5 (+ Nz)]: z is fed at every step."""
    if not cfg.conditional:
        return s_prev
    zt = jnp.broadcast_to(z[:, None, :].astype(s_prev.dtype), s_prev.shape[:2] + z.shape[-1:])
    return jnp.concatenate([s_prev, zt], -1)


def decode(params, cfg, s_prev, z, *, dropout_key=None):
    """Teacher-forced decoder: s_prev [B, T, 5] -> raw outputs [B, T, 6M + 3] (float32)."""
    B = s_prev.shape[0]
    carry = initial_state(params, cfg, z, B)
    dmask = None
    if dropout_key is not None and cfg.rec_dropout > 0:
        # one mask per sequence, shared over time (no memory loss)
        dmask = layers.dropout_mask(dropout_key, (B, cfg.dec_size), cfg.rec_dropout)
    ys, _ = rnn.run(LSTM, params["dec"], decoder_inputs(cfg, s_prev, z), carry=carry,
                    dropout_mask=dmask, unroll=cfg.unroll)
    return layers.dense(params["out"], ys).astype(jnp.float32)


def kl_divergence(mu, sigma_hat):
    """L_KL of eq 10, averaged over the Nz latent dimensions: [B, Nz] -> [B]."""
    return -0.5 * jnp.mean(1.0 + sigma_hat - mu * mu - jnp.exp(sigma_hat), axis=-1)


def reconstruction_loss(raw, target, length, n_mix):
    """L_R of eq 9 per sketch: offsets NLL over the real points and pen cross-entropy over all Nmax
    steps (the end tokens teach the model to stop), both divided by Nmax.

    raw: [B, Nmax, 6M + 3], target: [B, Nmax, 5], length: [B] -> (l_s [B], l_p [B]).
    """
    T = target.shape[1]
    mask = (jnp.arange(T)[None, :] < length[:, None]).astype(jnp.float32)
    p = mdn.split_bivariate(raw, n_mix, n_pen=3)
    lp_xy = mdn.bivariate_log_prob(p, target[..., 0], target[..., 1])
    lp_pen = jnp.sum(jax.nn.log_softmax(p["pen_logits"], -1) * target[..., 2:5], -1)
    return -(lp_xy * mask).sum(-1) / T, -lp_pen.sum(-1) / T


def kl_weight(cfg, step):
    """eta_step * w_KL (sec. 3.3: the KL term is annealed in from eta_min)."""
    return cfg.w_kl * kl_anneal(step, cfg.eta_min, cfg.kl_decay)


def forward(params, cfg, batch, key, *, train=True):
    """Per-sketch terms: dict of [B] arrays ``l_s``, ``l_p``, ``kl`` (kl is 0 when unconditional)."""
    x, length = batch["x"], batch["length"]
    params = cast_params(params, get_policy(cfg.compute_dtype))
    kz, kd = jax.random.split(key)
    s_prev, target = x[:, :-1], x[:, 1:]
    if cfg.conditional:
        mu, sigma_hat = encode(params, cfg, target, length)
        eps = jax.random.normal(kz, mu.shape)
        z = mu + jnp.exp(sigma_hat / 2.0) * eps
        kl = kl_divergence(mu, sigma_hat)
    else:
        z, kl = None, jnp.zeros(x.shape[:1], jnp.float32)
    raw = decode(params, cfg, s_prev, z, dropout_key=kd if train else None)
    l_s, l_p = reconstruction_loss(raw, target, length, cfg.n_mix)
    return {"l_s": l_s, "l_p": l_p, "kl": kl}


def objective(cfg: SketchConfig, lr, kl, kl_w):
    """``Lr + kl_w * max(L_KL, KL_min)`` (eq 12; KL below the tolerance costs KL_min and has no
    gradient); ``Lr`` alone for the unconditional model. ``kl_w`` is ``w_KL * eta_step``."""
    return lr + kl_w * jnp.maximum(kl, cfg.kl_min) if cfg.conditional else lr


def make_loss(cfg: SketchConfig, *, train=True):
    """``loss_fn(params, batch, key, step) -> (loss, metrics)`` for :func:`jaxseq.training.loop.fit`.

    Training loss: mean over the batch of ``Lr + w_KL * eta * max(L_KL, KL_min)``. Metrics report the
    unweighted ``lr``, ``kl`` and the current ``kl_weight``. An optional ``batch["weight"]`` ([B], 0/1)
    drops the padding examples of a ragged last eval batch.
    """
    def loss_fn(params, batch, key, step):
        t = forward(params, cfg, batch, key, train=train)
        w = batch.get("weight", jnp.ones_like(t["l_s"]))
        n = jnp.maximum(w.sum(), 1.0)
        mean = lambda a: (a * w).sum() / n
        lr = mean(t["l_s"] + t["l_p"])
        kl = mean(t["kl"])
        wk = kl_weight(cfg, step) if cfg.conditional else jnp.zeros((), jnp.float32)
        return objective(cfg, lr, kl, wk), {"lr": lr, "kl": kl, "l_s": mean(t["l_s"]), "l_p": mean(t["l_p"]),
                      "kl_weight": wk}
    return loss_fn


@functools.lru_cache(maxsize=8)
def make_eval_sums(cfg: SketchConfig):
    """Jitted ``(params, batch, key) -> dict of weighted sums`` and the count, for exact split means."""
    def sums(params, batch, key):
        t = forward(params, cfg, batch, key, train=False)
        w = batch["weight"]
        return {"lr": ((t["l_s"] + t["l_p"]) * w).sum(), "kl": (t["kl"] * w).sum(),
                "l_s": (t["l_s"] * w).sum(), "l_p": (t["l_p"] * w).sum(), "n": w.sum()}
    return jax.jit(sums)


def evaluate(params, cfg, batches, key):
    """Means of ``lr``, ``kl``, ``l_s``, ``l_p`` over a split (``batches`` from
    :func:`jaxseq.data.sketches.eval_batches`), and ``loss``: the fully annealed objective
    ``Lr + w_KL * max(L_KL, KL_min)`` (what checkpoints are selected on).

    z is sampled (not the mean), as in the paper's reported losses.
    """
    f = make_eval_sums(cfg)
    tot = None
    for i, b in enumerate(batches):
        s = f(params, b, jax.random.fold_in(key, i))
        tot = s if tot is None else jax.tree_util.tree_map(jnp.add, tot, s)
    tot = jax.device_get(tot)
    n = float(tot.pop("n"))
    m = {k: float(v) / n for k, v in tot.items()}
    m["loss"] = float(objective(cfg, m["lr"], m["kl"], cfg.w_kl))
    return m
