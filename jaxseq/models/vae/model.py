"""MLP variational autoencoder (Kingma & Welling 2014) and its class-conditional form (Sohn et al. 2015).

Encoder ``q(z | x[, y]) = N(mu, diag(exp(logvar)))``, prior ``p(z) = N(0, I)``, Bernoulli decoder
``p(x | z[, y])`` with logits from an MLP. The CVAE feeds a one-hot label to both encoder and decoder
(Sohn et al. §4 with the prior kept at N(0, I)), so ``p(x | y)`` can be sampled class by class.

Shapes: ``x: [B, D]`` in [0, 1] (binary for a proper likelihood), ``y: [B]`` int labels or None,
``z: [B, Z]``. Every bound is returned per example in nats, float32.
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxseq.nn import layers

_LOG_2PI = math.log(2.0 * math.pi)


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    x_dim: int = 784
    hidden: tuple = (512, 256)    # encoder sizes; the decoder mirrors them
    z_dim: int = 20
    n_classes: int = 0            # > 0: a CVAE conditioned on a one-hot label


def init(key, cfg: VAEConfig):
    ke, kd = jax.random.split(key)
    c = cfg.n_classes
    enc = [cfg.x_dim + c, *cfg.hidden, 2 * cfg.z_dim]
    dec = [cfg.z_dim + c, *reversed(cfg.hidden), cfg.x_dim]
    return {"enc": layers.mlp_init(ke, enc, init="glorot"),     # Glorot-uniform weights, zero biases
            "dec": layers.mlp_init(kd, dec, init="glorot")}


def _cond(a, y, n_classes):
    if n_classes == 0:
        return a
    if y is None:
        raise ValueError("this is a CVAE (n_classes > 0): pass labels y")
    oh = jax.nn.one_hot(y, n_classes, dtype=a.dtype)
    oh = jnp.broadcast_to(oh, a.shape[:-1] + (n_classes,))
    return jnp.concatenate([a, oh], -1)


def encode(params, x, y=None, *, n_classes=0):
    """-> (mu [B, Z], logvar [B, Z])."""
    h = layers.mlp(params["enc"], _cond(x, y, n_classes))
    mu, logvar = jnp.split(h, 2, -1)
    return mu, jnp.clip(logvar, -15.0, 10.0)


def decode(params, z, y=None, *, n_classes=0):
    """z: [..., Z] -> Bernoulli logits [..., D]; y broadcasts against z's leading axes."""
    return layers.mlp(params["dec"], _cond(z, y, n_classes))


# ------------------------------------------------------------------------------------- densities
def bernoulli_log_prob(logits, x):
    """sum_d log Bern(x_d | sigmoid(logit_d)) with log_sigmoid for stability. -> [...]."""
    return (x * jax.nn.log_sigmoid(logits) + (1.0 - x) * jax.nn.log_sigmoid(-logits)).sum(-1)


def normal_log_prob(z, mu, logvar):
    """log N(z; mu, diag(exp(logvar))) summed over the last axis."""
    return -0.5 * (_LOG_2PI + logvar + (z - mu) ** 2 * jnp.exp(-logvar)).sum(-1)


def kl_standard_normal(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)), closed form (Kingma & Welling App. B). -> [B]."""
    return 0.5 * (jnp.exp(logvar) + mu ** 2 - 1.0 - logvar).sum(-1)


# ---------------------------------------------------------------------------------------- bounds
def elbo(params, x, key, y=None, *, n_classes=0):
    """Single-sample ELBO with the reparameterisation z = mu + sigma * eps (K&W eq 10).

    Returns dict of per-example ``elbo``, ``recon`` (E_q log p(x|z), one sample) and ``kl`` ([B] each).
    """
    mu, logvar = encode(params, x, y, n_classes=n_classes)
    z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
    recon = bernoulli_log_prob(decode(params, z, y, n_classes=n_classes), x)
    kl = kl_standard_normal(mu, logvar)
    return {"elbo": recon - kl, "recon": recon, "kl": kl}


def iwae_bound(params, x, key, k, y=None, *, n_classes=0, chunk=100):
    """Importance-weighted bound log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q (Burda et al. 2016).

    It is <= log p(x) and tends to it as k grows, so ``-iwae_bound`` with large k estimates the NLL.
    The k samples are drawn in chunks of ``chunk`` under ``lax.scan`` (bounded memory: [chunk, B, D]),
    combined with a running logsumexp. x: [B, D] -> [B]. ``k`` must be a multiple of ``chunk``.
    """
    chunk = min(chunk, k)
    if k % chunk:
        raise ValueError(f"k={k} must be a multiple of chunk={chunk}")
    mu, logvar = encode(params, x, y, n_classes=n_classes)
    std = jnp.exp(0.5 * logvar)

    def body(acc, kc):
        z = mu + std * jax.random.normal(kc, (chunk,) + mu.shape)          # [C, B, Z]
        logits = decode(params, z, y, n_classes=n_classes)                   # [C, B, D]
        log_w = (bernoulli_log_prob(logits, x) + normal_log_prob(z, 0.0, jnp.zeros_like(z))
                 - normal_log_prob(z, mu, logvar))                           # [C, B]
        return jnp.logaddexp(acc, jax.nn.logsumexp(log_w, 0)), None

    acc0 = jnp.full(mu.shape[:1], -jnp.inf, jnp.float32)
    acc, _ = jax.lax.scan(body, acc0, jax.random.split(key, k // chunk))
    return acc - math.log(k)


def loss_fn(params, batch, key, step=0, *, n_classes=0, binarize=True):
    """Negative ELBO averaged over the batch. batch: {"x": [B, D] in [0,1], "y": [B]}. ``step`` (from
    the trainer) is unused: the objective has no schedule.

    ``binarize`` draws x ~ Bernoulli(intensity) afresh each step (dynamic binarisation), the usual
    protocol for Bernoulli-likelihood VAEs on grey-level images.
    """
    kb, kz = jax.random.split(key)
    x = batch["x"]
    if binarize:
        x = jax.random.bernoulli(kb, x).astype(jnp.float32)
    out = elbo(params, x, kz, batch.get("y"), n_classes=n_classes)
    return -out["elbo"].mean(), {"recon": -out["recon"].mean(), "kl": out["kl"].mean()}


def sample(params, key, n, y=None, *, z_dim, n_classes=0, mean=True):
    """n draws from p(x [| y]): z ~ N(0, I), then the Bernoulli means (``mean=True``) or a binary draw."""
    kz, kx = jax.random.split(key)
    z = jax.random.normal(kz, (n, z_dim))
    p = jax.nn.sigmoid(decode(params, z, y, n_classes=n_classes))
    return p if mean else jax.random.bernoulli(kx, p).astype(jnp.float32)
