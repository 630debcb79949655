"""Mixture density outputs (Bishop 1994; Graves 2013 eqs 15-26; Ha & Eck 2017).

All likelihoods are computed in log space (``logsumexp`` over components, ``log_sigmoid`` for the
end-of-stroke Bernoulli); ``rho`` is kept inside (-1, 1) and log-sigmas are clipped, so losses stay finite
under float32 and bf16 compute. Parameter dicts carry the leading shape of the raw network output.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxseq.nn.precision import at_least_f32

LOG_SIGMA_MIN, LOG_SIGMA_MAX = -10.0, 10.0
RHO_MAX = 1.0 - 1e-5
_LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------- 1-D Gaussian mixture
def gmm_size(n_mix: int) -> int:
    return 3 * n_mix


def split_gmm(raw, n_mix):
    """raw: [..., 3M] -> {log_pi, mu, log_sigma}, each [..., M]."""
    logit, mu, log_sigma = jnp.split(at_least_f32(raw), 3, axis=-1)
    return {"log_pi": jax.nn.log_softmax(logit, -1), "mu": mu,
            "log_sigma": jnp.clip(log_sigma, LOG_SIGMA_MIN, LOG_SIGMA_MAX)}


def gmm_log_prob(p, y):
    """log p(y) of a 1-D mixture; y: [...] -> [...]."""
    z = (y[..., None] - p["mu"]) * jnp.exp(-p["log_sigma"])
    comp = -0.5 * z * z - p["log_sigma"] - 0.5 * _LOG_2PI
    return jax.nn.logsumexp(p["log_pi"] + comp, axis=-1)


def gmm_sample(key, p, temperature=1.0):
    """One draw per leading index; temperature scales the logits (1/tau) and the variance (tau)."""
    kc, kn = jax.random.split(key)
    idx = jax.random.categorical(kc, p["log_pi"] / temperature, axis=-1)
    pick = lambda a: jnp.take_along_axis(a, idx[..., None], -1)[..., 0]
    sigma = jnp.exp(pick(p["log_sigma"])) * jnp.sqrt(temperature)
    return pick(p["mu"]) + sigma * jax.random.normal(kn, idx.shape)


def gmm_mean_var(p):
    """Analytic mean and variance of the mixture (law of total variance)."""
    pi = jnp.exp(p["log_pi"])
    mean = (pi * p["mu"]).sum(-1)
    second = (pi * (jnp.exp(2 * p["log_sigma"]) + p["mu"] ** 2)).sum(-1)
    return mean, second - mean ** 2


# ------------------------------------------------------------------- bivariate mixture + pen state
def bivariate_size(n_mix: int, n_pen: int = 1) -> int:
    """Raw output size: 6 per component (pi, mu1, mu2, s1, s2, rho) plus the pen logits."""
    return 6 * n_mix + n_pen


def split_bivariate(raw, n_mix, n_pen=1, *, bias=0.0, temperature=1.0):
    """raw: [..., 6M + n_pen] -> dict of [..., M] arrays plus ``pen_logits`` [..., n_pen].

    ``bias`` (Graves eqs 61-62) sharpens the mixture weights (logits * (1 + b)) and shrinks sigmas
    (log sigma - b). ``temperature`` (Ha & Eck) divides the weight and pen logits by tau and scales the
    variances by tau. Both are identities at their defaults (b=0, tau=1), which training uses.
    """
    raw = at_least_f32(raw)
    m = n_mix
    logit, mu1, mu2, ls1, ls2, rho = (raw[..., i * m:(i + 1) * m] for i in range(6))
    pen = raw[..., 6 * m:6 * m + n_pen]
    log_t = jnp.log(temperature)
    ls1 = jnp.clip(ls1 - bias + 0.5 * log_t, LOG_SIGMA_MIN, LOG_SIGMA_MAX)
    ls2 = jnp.clip(ls2 - bias + 0.5 * log_t, LOG_SIGMA_MIN, LOG_SIGMA_MAX)
    return {"log_pi": jax.nn.log_softmax(logit * (1.0 + bias) / temperature, -1),
            "mu1": mu1, "mu2": mu2, "log_s1": ls1, "log_s2": ls2,
            "rho": RHO_MAX * jnp.tanh(rho), "pen_logits": pen / temperature}


def bivariate_log_prob(p, x1, x2):
    """log of the mixture density at (x1, x2) (Graves eqs 24-25); x1, x2: [...] -> [...]."""
    z1 = (x1[..., None] - p["mu1"]) * jnp.exp(-p["log_s1"])
    z2 = (x2[..., None] - p["mu2"]) * jnp.exp(-p["log_s2"])
    rho = p["rho"]
    one_m = 1.0 - rho * rho
    z = z1 * z1 + z2 * z2 - 2.0 * rho * z1 * z2
    comp = -z / (2.0 * one_m) - _LOG_2PI - p["log_s1"] - p["log_s2"] - 0.5 * jnp.log(one_m)
    return jax.nn.logsumexp(p["log_pi"] + comp, axis=-1)


def eos_log_prob(p, eos):
    """Bernoulli end-of-stroke term (Graves eq 26 with e = sigmoid(logit)); eos in {0, 1}."""
    logit = p["pen_logits"][..., 0]
    return eos * jax.nn.log_sigmoid(logit) + (1.0 - eos) * jax.nn.log_sigmoid(-logit)


def stroke_nll(p, target, mask=None):
    """Graves' sequence loss: -sum_t [log mixture(dx, dy) + log Bernoulli(eos)], masked.

    target: [..., T, 3] (dx, dy, eos); mask: [..., T]. Returns the per-sequence NLL [...] in nats.
    """
    lp = bivariate_log_prob(p, target[..., 0], target[..., 1]) + eos_log_prob(p, target[..., 2])
    if mask is not None:
        lp = lp * mask
    return -lp.sum(-1)


def bivariate_noise(key, lead_shape, n_mix, n_pen=1):
    """All the randomness of :func:`sample_bivariate` for leading shape ``lead_shape``, drawn up front
    (a sampling loop draws it for every step at once and slices it, so there is no RNG in the loop):
    ``gumbel [..., M]`` (picks the component), ``normal [..., 2]``, and ``pen``: uniform ``[...]`` for the
    end-of-stroke bit (``n_pen=1``) or Gumbel ``[..., n_pen]`` for a pen-state softmax."""
    lead = tuple(lead_shape)
    kc, kn, kp = jax.random.split(key, 3)
    pen = (jax.random.uniform(kp, lead) if n_pen == 1 else jax.random.gumbel(kp, lead + (n_pen,)))
    return {"gumbel": jax.random.gumbel(kc, lead + (n_mix,)), "normal": jax.random.normal(kn, lead + (2,)),
            "pen": pen}


def sample_bivariate(key, p, *, n_pen=1, noise=None):
    """Draw one point per leading index from already biased/tempered params (:func:`split_bivariate`).

    The component is the Gumbel-max pick ``argmax(log_pi + g)`` (the same draw as
    ``jax.random.categorical``) and its parameters are read with a one-hot mask (one fused reduction, no
    gather). ``noise`` (from :func:`bivariate_noise`) replaces ``key``: sampling loops pre-draw it.

    Returns ``(xy [..., 2], pen)``: ``pen`` is the end-of-stroke bit (float 0/1) for ``n_pen=1`` and the
    pen-state index for ``n_pen>1`` (Sketch-RNN's 3-way softmax).
    """
    if noise is None:
        noise = bivariate_noise(key, p["log_pi"].shape[:-1], p["log_pi"].shape[-1], n_pen)
    idx = jnp.argmax(p["log_pi"] + noise["gumbel"], axis=-1)
    hit = jnp.arange(p["log_pi"].shape[-1]) == idx[..., None]
    pick = lambda a: jnp.where(hit, a, 0.0).sum(-1)
    mu1, mu2, rho = pick(p["mu1"]), pick(p["mu2"]), pick(p["rho"])
    s1, s2 = jnp.exp(pick(p["log_s1"])), jnp.exp(pick(p["log_s2"]))
    n1, n2 = noise["normal"][..., 0], noise["normal"][..., 1]
    x1 = mu1 + s1 * n1
    x2 = mu2 + s2 * (rho * n1 + jnp.sqrt(1.0 - rho * rho) * n2)
    if n_pen == 1:
        pen = (noise["pen"] < jax.nn.sigmoid(p["pen_logits"][..., 0])).astype(jnp.float32)
    else:
        pen = jnp.argmax(p["pen_logits"] + noise["pen"], axis=-1)
    return jnp.stack([x1, x2], -1), pen


def bivariate_moments(p):
    """Analytic mean [..., 2] and covariance [..., 2, 2] of the mixture (for sampler tests)."""
    pi = jnp.exp(p["log_pi"])
    mu = jnp.stack([p["mu1"], p["mu2"]], -1)                       # [..., M, 2]
    s1, s2 = jnp.exp(p["log_s1"]), jnp.exp(p["log_s2"])
    c12 = p["rho"] * s1 * s2
    cov = jnp.stack([jnp.stack([s1 * s1, c12], -1), jnp.stack([c12, s2 * s2], -1)], -2)
    mean = (pi[..., None] * mu).sum(-2)
    d = mu - mean[..., None, :]
    total = (pi[..., None, None] * (cov + d[..., :, None] * d[..., None, :])).sum(-3)
    return mean, total
