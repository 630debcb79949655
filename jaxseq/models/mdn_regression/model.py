"""Three conditional models of a scalar y given a scalar x, each an MLP with two tanh hidden layers
(Glorot-uniform init):

- ``mse``: least-squares regression, y_hat = net(x) (learns the conditional mean);
- ``gauss``: one Gaussian with learned mean and sigma (a mixture density network with one component);
- ``mdn``: a mixture density network (Bishop 1994) with ``n_mix`` 1-D Gaussian components
  (:mod:`jaxseq.nn.mixtures`).

Shapes: ``x: [N]``, ``y: [N]``; mixtures are dicts ``{log_pi, mu, log_sigma}`` of ``[N, M]``.
"""
from __future__ import annotations

import jax.numpy as jnp

from jaxseq.nn import layers
from jaxseq.nn import mixtures as mdn

KINDS = ("mse", "gauss", "mdn")


def _check(kind):
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {KINDS}")


def out_size(kind, n_mix):
    _check(kind)
    return {"mse": 1, "gauss": mdn.gmm_size(1), "mdn": mdn.gmm_size(n_mix)}[kind]


def init(key, kind, hidden=32, n_mix=5):
    """Params of a 1 -> hidden -> hidden -> output MLP for ``kind``."""
    return layers.mlp_init(key, [1, hidden, hidden, out_size(kind, n_mix)], init="glorot")


def predict(params, x, kind, n_mix=5):
    """x: [N] -> y_hat [N] (``mse``) or the mixture dict (``gauss``: one component, ``mdn``)."""
    _check(kind)
    raw = layers.mlp(params, x[:, None], act=jnp.tanh)
    if kind == "mse":
        return raw[:, 0]
    return mdn.split_gmm(raw, 1 if kind == "gauss" else n_mix)  # [logit, mu, log_sigma] per component


def log_prob(params, x, y, kind, n_mix=5):
    """log p(y | x) [N] of a mixture model (``gauss`` or ``mdn``)."""
    if kind == "mse":
        raise ValueError("the least-squares net has no density; read it as a Gaussian with a residual "
                         "variance instead")
    return mdn.gmm_log_prob(predict(params, x, kind, n_mix), y)


def loss_fn(params, batch, key, step=0, *, kind, n_mix=5):
    """Mean squared error (``mse``) or mean NLL in nats. batch: {"x": [N], "y": [N]}."""
    out = predict(params, batch["x"], kind, n_mix)
    if kind == "mse":
        return ((out - batch["y"]) ** 2).mean(), {}
    return -mdn.gmm_log_prob(out, batch["y"]).mean(), {}
