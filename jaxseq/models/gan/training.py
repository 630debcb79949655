"""Training the MLP GAN, CGAN and InfoGAN of :mod:`jaxseq.models.gan.model`: the configuration, one
alternating step (a discriminator update, then a generator update against the updated discriminator,
each with its own Adam), ``lax.scan`` over chunks of steps, and a run with checkpoints, resume and a
time budget.

A GAN has two optimizers and two losses, so it does not go through :func:`jaxseq.training.loop.fit`
(one loss, one optimizer); it reuses the same pieces instead: :class:`Checkpointer` (params
``{"g", "d"}`` and both optimizer states), :func:`check_resume`, the batch order of
:func:`batch_indices` (a resumed run sees exactly the data it would have seen) and the tqdm bar.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxseq.data.batching import batch_indices
from jaxseq.errors import DataError
from jaxseq.models.gan import model as gm
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer, check_resume, load_for_sampling
from jaxseq.training.loop import History, _bar

log = logging.getLogger("jaxseq.training")


@dataclasses.dataclass
class GANTrainConfig:
    model: str = "gan"            # gan | cgan | infogan
    data: str = "fashion-mnist"   # IDX data set (jaxseq.data.mnist.SETS)
    z_dim: int = 0                # noise size; 0: 100 (gan, cgan) or 62 (infogan, the paper's MNIST net)
    hidden: int = 128             # hidden units of G and of D
    n_cont: int = 2               # infogan: continuous codes U(-1, 1)
    lam_cat: float = 1.0          # infogan: weight of the categorical MI term (the paper's lambda = 1)
    lam_cont: float = 1.0         # infogan: weight of the continuous (unit Gaussian) MI term
    d_dropout: float = 0.5        # dropout on D's hidden layer while training (Goodfellow et al.'s D)
    epochs: float = 100.0         # training epochs (may be fractional)
    batch_size: int = 64
    lr: float = 2e-4              # Adam learning rate of both G and D
    beta1: float = 0.5            # Adam beta1 (0.5: Radford et al.'s GAN setting)
    chunk: int = 500              # steps per jitted lax.scan; one history row each
    ckpt_every: int = 10000       # save every N steps (0: only at the end)
    seed: int = 0                 # init, noise and batch order
    progress: bool = True         # tqdm progress bar

    def __post_init__(self):
        if self.model not in gm.KINDS:
            raise ValueError(f"model = {self.model!r}: choose one of {', '.join(gm.KINDS)}")
        for name in ("epochs", "batch_size", "chunk", "hidden", "lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} = {getattr(self, name)}: must be positive")
        for name in ("ckpt_every", "z_dim", "n_cont", "lam_cat", "lam_cont"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} = {getattr(self, name)}: must not be negative")
        if not 0 <= self.d_dropout < 1:
            raise ValueError(f"d_dropout = {self.d_dropout}: give a rate in [0, 1)")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 = {self.beta1}: give a value in [0, 1)")


def model_config(cfg: GANTrainConfig) -> gm.GANConfig:
    z = cfg.z_dim or (62 if cfg.model == "infogan" else 100)
    return gm.GANConfig(kind=cfg.model, z_dim=z, hidden=cfg.hidden,
                        n_cont=cfg.n_cont if cfg.model == "infogan" else 0)


def n_steps(cfg: GANTrainConfig, n_train):
    return max(1, int(cfg.epochs * n_train / cfg.batch_size))


def optimizer(cfg: GANTrainConfig):
    """One Adam; G and D each get their own state of it."""
    return optax.adam(cfg.lr, b1=cfg.beta1)


# -------------------------------------------------------------------------------------------- step
def train_step(params, opt_state, x, y, key, *, mcfg: gm.GANConfig, opt, lam_cat=1.0, lam_cont=1.0,
               dropout=0.0):
    """One alternating update on a real batch ``x [B, 784]`` in [0, 1] (``y [B]`` its labels).

    D descends ``d_loss`` (+ the MI terms for infogan, which train the Q head and the shared body) on
    the batch and a fresh fake batch; then G descends the non-saturating ``g_loss`` (+ MI) against the
    updated D. Returns ``(params, opt_state, metrics)``."""
    kd, kg, k1, k2, k3 = jax.random.split(key, 5)
    disc = functools.partial(gm.discriminate, cfg=mcfg, dropout=dropout)
    n = x.shape[0]
    cond = y if mcfg.kind == "cgan" else None   # cgan fakes carry the batch's labels
    info = mcfg.kind == "infogan"

    def mi(q, lat):
        ce, gauss = gm.mi_terms(q, lat["cat"], lat["cont"])
        return lam_cat * ce + lam_cont * gauss, (ce, gauss)

    lat_d = gm.sample_latent(kd, n, mcfg, cond)
    fake = jax.lax.stop_gradient(gm.generate(params["g"], lat_d, mcfg))

    def d_obj(d):
        real_l, _ = disc(d, x, y=y, key=k1)
        fake_l, q = disc(d, fake, y=lat_d.get("y"), key=k2)
        loss = gm.d_loss(real_l, fake_l)
        aux = {"d_loss": loss, "d_real": jnp.mean(jax.nn.sigmoid(real_l)),
               "d_fake": jnp.mean(jax.nn.sigmoid(fake_l))}
        return (loss + mi(q, lat_d)[0] if info else loss), aux

    (_, m_d), grads = jax.value_and_grad(d_obj, has_aux=True)(params["d"])
    upd, od = opt.update(grads, opt_state["d"], params["d"])
    d = optax.apply_updates(params["d"], upd)

    lat_g = gm.sample_latent(kg, n, mcfg, cond)

    def g_obj(g):
        fake_l, q = disc(d, gm.generate(g, lat_g, mcfg), y=lat_g.get("y"), key=k3)
        loss = gm.g_loss(fake_l)
        if not info:
            return loss, {"g_loss": loss}
        total, (ce, gauss) = mi(q, lat_g)
        # reported: the lower bound on I(c1; G(z, c)) in nats (at most log K) and the Gaussian NLL
        return loss + total, {"g_loss": loss, "mi_cat": math.log(mcfg.n_classes) - ce, "q_cont_nll": gauss}

    (_, m_g), grads = jax.value_and_grad(g_obj, has_aux=True)(params["g"])
    upd, og = opt.update(grads, opt_state["g"], params["g"])
    g = optax.apply_updates(params["g"], upd)
    return {"g": g, "d": d}, {"g": og, "d": od}, {**m_d, **m_g}


@functools.lru_cache(maxsize=8)
def _chunk_fn(mcfg: gm.GANConfig, lr, beta1, lam_cat, lam_cont, dropout):
    opt = optax.adam(lr, b1=beta1)
    step = functools.partial(train_step, mcfg=mcfg, opt=opt, lam_cat=lam_cat, lam_cont=lam_cont,
                             dropout=dropout)

    def chunk(params, opt_state, x_all, y_all, idx, key, step0):
        """``idx [K, B]`` rows of ``x_all`` (uint8 ``[N, 784]`` on device) for steps ``step0 ..``."""
        keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(step0 + jnp.arange(idx.shape[0]))

        def body(carry, inp):
            i, k = inp
            x = x_all[i].astype(jnp.float32) / 255.0
            p, o, m = step(*carry, x, y_all[i], k)
            return (p, o), m
        (params, opt_state), m = jax.lax.scan(body, (params, opt_state), (idx, keys))
        return params, opt_state, jax.tree_util.tree_map(jnp.mean, m)
    return jax.jit(chunk, donate_argnums=(0, 1))


def chunk_fn(mcfg: gm.GANConfig, cfg: GANTrainConfig):
    """``chunk(params, opt_state, x_all, y_all, idx [K, B], key, step0) -> (params, opt_state, mean
    metrics)``: K alternating steps under one ``lax.scan`` (one dispatch per chunk, not per step)."""
    return _chunk_fn(mcfg, cfg.lr, cfg.beta1, cfg.lam_cat, cfg.lam_cont, cfg.d_dropout)


def chunk_indices(step0, k, n, batch_size, seed):
    """``[k, batch_size]`` rows for steps ``step0 .. step0 + k - 1``, exactly those of
    :func:`batch_indices` (each epoch's permutation is drawn once, as ``batch_indices`` of a batch of n)."""
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch size {batch_size} is larger than the data set ({n} images)")
    perms, rows = {}, []
    for s in range(step0, step0 + k):
        epoch, i = divmod(s, per_epoch)
        if epoch not in perms:
            perms[epoch] = batch_indices(epoch, n, n, seed, shard=(0, 1))
        rows.append(perms[epoch][i * batch_size:(i + 1) * batch_size])
    return np.stack(rows).astype(np.int32)


# --------------------------------------------------------------------------------------------- run
def run_meta(cfg: GANTrainConfig, mcfg: gm.GANConfig, extra=None):
    """What a checkpoint records: the family, the model config (its identity: a resume may not change
    it), the data set, and the training settings (``train``: a resume may change them, logged)."""
    return {**(extra or {}), "family": "gan", "gan": dataclasses.asdict(mcfg), "data": cfg.data,
            "train": dataclasses.asdict(cfg)}


def require_gan(directory, meta):
    if not isinstance(meta, dict) or meta.get("family") != "gan":
        raise DataError(f"{directory} is not a GAN checkpoint (no family 'gan' in its metadata); give the "
                        f"ckpt folder of an experiments/gan.py run or an exported generator")


def train(cfg: GANTrainConfig, train_x, train_y, ckpt_dir, *, meta=None, time_budget_s=None):
    """Train on ``train_x`` (uint8 ``[N, 784]``, labels ``train_y [N]``) into ``ckpt_dir``, resuming
    there (a finished run is only restored). Returns ``(params, history, steps_done, steps)``; history
    rows are ``{"step", "d_loss", "g_loss", "d_real", "d_fake", ["mi_cat", "q_cont_nll"], "steps_per_s"}``
    and ``history.stopped`` is ``"time_budget"`` when the budget ended it early."""
    t_start = time.perf_counter()
    mcfg = model_config(cfg)
    params = gm.init(jax.random.PRNGKey(cfg.seed), mcfg)
    opt = optimizer(cfg)
    opt_state = {"g": opt.init(params["g"]), "d": opt.init(params["d"])}
    steps, n = n_steps(cfg, len(train_x)), len(train_x)
    ckpt = Checkpointer(as_path(ckpt_dir), keep=1)
    history = History()
    try:
        last = ckpt.latest_step()
        stored = None if last is None else ckpt.read_meta(last)
        if stored is not None:
            require_gan(ckpt_dir, stored)
        meta = check_resume(stored, run_meta(cfg, mcfg, meta), where=f"{ckpt.directory} step {last}")
        start = 0
        if last is not None:
            params, opt_state, _ = ckpt.restore(last, params_like=params, opt_state_like=opt_state)
            start = last
            log.info("resumed from %s at step %d", ckpt.directory, start)
        run = chunk_fn(mcfg, cfg)
        x_all, y_all = jnp.asarray(train_x, jnp.uint8), jnp.asarray(train_y, jnp.int32)
        key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 1)
        bar = _bar(steps, start, cfg.progress)
        done, saved, chunk_s = start, start, []
        while done < steps:
            k = min(cfg.chunk, steps - done)
            t0 = time.perf_counter()
            idx = chunk_indices(done, k, n, cfg.batch_size, cfg.seed)
            params, opt_state, m = run(params, opt_state, x_all, y_all, jnp.asarray(idx), key,
                                       jnp.asarray(done, jnp.int32))
            row = {kk: float(v) for kk, v in jax.device_get(m).items()}
            dt = time.perf_counter() - t0
            done += k
            row["steps_per_s"] = k / dt
            if not all(np.isfinite(v) for v in row.values()):
                raise FloatingPointError(f"a loss became non-finite by step {done}: {row}; lower --lr")
            history.append({"step": done, **row})
            chunk_s.append(dt / k)
            if bar is not None:
                bar.update(k)
                bar.set_postfix(d=f"{row['d_loss']:.3f}", g=f"{row['g_loss']:.3f}")
            else:
                log.info("step %d: %s", done, ", ".join(f"{a}={b:.4f}" for a, b in row.items()))
            if cfg.ckpt_every and done // cfg.ckpt_every > saved // cfg.ckpt_every and done < steps:
                ckpt.save(done, params, opt_state, meta=meta)
                saved = done
            if time_budget_s is not None and done < steps:
                per = float(np.median(chunk_s[1:][-20:])) if len(chunk_s) > 1 else chunk_s[0]
                if time.perf_counter() - t_start + 2 * cfg.chunk * per + 20.0 > time_budget_s:
                    log.info("time budget reached at step %d; saving (run again to resume)", done)
                    history.stopped = "time_budget"
                    break
        if bar is not None:
            bar.close()
        if done > saved or ckpt.latest_step() is None:
            ckpt.save(done, params, opt_state, meta=meta)
        history.step = done
    finally:
        ckpt.close()
    return jax.device_get(params), history, done, steps


def export_generator(src, dst, *, step=None, dtype="float32"):
    """A params-only copy of the generator (``{"g": ...}``: no discriminator, no optimizer state) of the
    run in ``src`` into the empty directory ``dst``, floats stored as ``dtype``: what sampling needs.
    Returns the step."""
    from jaxseq.models.dcgan.shared import export_generator as export_keys   # the GAN families' export
    _, meta = load_for_sampling(src, step, dtype=None)
    require_gan(src, meta)
    return export_keys(src, dst, ("g",), dtype=dtype, step=step)[0]
