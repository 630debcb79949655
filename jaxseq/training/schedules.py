"""Schedules over the training step: the learning rate (optax), the teacher-forcing probability of
scheduled sampling (Bengio et al. 2015 §2.4) and KL annealing (Ha & Eck 2017 §3.3).

Each is a pure function of the step, which the trainer hands the loss (``loss_fn(params, batch, key,
step)``), so a schedule never travels inside a batch. The step may be a traced array.
"""
from __future__ import annotations

import jax.numpy as jnp
import optax


# ------------------------------------------------------------------------------------ learning rate
def make_schedule(cfg):
    """optax schedule from a :class:`jaxseq.training.loop.TrainConfig` (lr, schedule, warmup, ...)."""
    if cfg.schedule == "constant":
        sched = optax.constant_schedule(cfg.lr)
    elif cfg.schedule == "cosine":
        sched = optax.cosine_decay_schedule(cfg.lr, max(cfg.steps - cfg.warmup, 1),
                                            alpha=cfg.min_lr / cfg.lr if cfg.lr else 0.0)
    elif cfg.schedule == "exponential":
        sched = optax.exponential_decay(cfg.lr, max(cfg.steps, 1), cfg.decay_rate,
                                        end_value=cfg.min_lr or None)
    else:
        raise ValueError(f"unknown schedule {cfg.schedule!r}: use constant, cosine or exponential")
    if cfg.warmup:
        sched = optax.join_schedules(
            [optax.linear_schedule(0.0, cfg.lr, cfg.warmup), sched], [cfg.warmup])
    return sched



# -------------------------------------------------------------------------------- teacher forcing
SCHEDULES = ("linear", "exponential", "inverse_sigmoid", "constant")


_DEFAULT_K = {"linear": 1.0, "exponential": 0.999, "inverse_sigmoid": 1000.0, "constant": 1.0}


def teacher_forcing_prob(step, kind="inverse_sigmoid", *, k=None, c=1e-4, eps_min=0.0):
    """eps(step) for ``kind`` (``k=None`` takes a sensible per-schedule default, see ``_DEFAULT_K``;
    one shared default such as 1000 would pin a linear schedule at 1 for ~10^7 steps):

    - ``linear``: ``max(eps_min, k - c * step)`` (k <= 1; pass e.g. k=1, c=1/steps)
    - ``exponential``: ``k ** step`` (k < 1, e.g. 0.999)
    - ``inverse_sigmoid``: ``k / (k + exp(step / k))`` (k >= 1 sets how long eps stays near 1)
    - ``constant``: ``k``
    Works on Python numbers and on traced arrays.
    """
    step = jnp.asarray(step, jnp.float32)
    if kind not in _DEFAULT_K:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {SCHEDULES}")
    k = _DEFAULT_K[kind] if k is None else k
    if kind == "linear":
        eps = jnp.maximum(eps_min, k - c * step)
    elif kind == "exponential":
        eps = jnp.asarray(k, jnp.float32) ** step
    elif kind == "inverse_sigmoid":
        eps = k / (k + jnp.exp(jnp.minimum(step / k, 80.0)))
    elif kind == "constant":
        eps = jnp.full_like(step, k)
    else:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {SCHEDULES}")
    return jnp.clip(jnp.maximum(eps, eps_min), 0.0, 1.0)



# ------------------------------------------------------------------------------------ KL annealing
def kl_anneal(step, eta_min=0.01, decay=0.99995):
    """eta_step = 1 - (1 - eta_min) * decay ** step (Ha & Eck 2017 §3.3): the KL weight's ramp from
    ``eta_min`` towards 1."""
    return 1.0 - (1.0 - eta_min) * jnp.power(decay, jnp.asarray(step, jnp.float32))
