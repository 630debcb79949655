"""Training a Sketch-RNN on stroke-3 data: the paper's optimisation settings (sec. 3.3 and the authors'
code) around :func:`jaxseq.training.loop.fit`, with validation, periodic sample grids and checkpoints
that hold everything sampling needs (params, config, scale factor, a few test sketches).
"""
from __future__ import annotations

import dataclasses
import logging

import jax
import numpy as np

from jaxseq.data import sketches as sd
from jaxseq.models.sketch_rnn import model as sr
from jaxseq.models.sketch_rnn import sample as ss
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, fit, is_main_process

log = logging.getLogger("jaxseq.sketch_rnn")

N_EXAMPLES = 8        # real test sketches kept in the checkpoint meta for reconstruction / interpolation
BEST_METRIC = "val_loss"
#: config fields that fix the shapes of the params: a resumed run must keep them
ARCH_FIELDS = ("conditional", "enc_size", "dec_size", "z_size", "n_mix", "layer_norm")


@dataclasses.dataclass
class TrainSettings:
    steps: int = 20000          # optimizer steps
    batch_size: int = 100       # sketches per step
    lr: float = 1e-3            # initial Adam learning rate
    min_lr: float = 1e-5        # learning-rate floor
    lr_decay: float = 0.9999    # per-step decay: lr_t = lr * lr_decay^t, floored at min_lr
    clip: float = 1.0           # global gradient-norm clip
    augment: bool = True        # random x/y scaling by 0.9-1.1 and point dropping
    drop_prob: float = 0.1      # point-drop probability of the augmentation
    dequant: float = 0.0        # uniform noise width added to training offsets (data units; 1: integer data)
    seed: int = 0               # init, data order, validation z and sample grids
    eval_every: int = 1000      # validation losses every N steps (and at the end)
    ckpt_every: int = 500       # checkpoint every N steps (and at the end)
    log_every: int = 50         # average the train metrics over N steps
    samples: int = 16           # sketches per periodic sample grid (0: none)
    sample_every: int = 2000    # a sample grid every N steps, at an eval step (and at the end)
    progress: bool = True       # tqdm progress bar


def train_config(s: TrainSettings) -> TrainConfig:
    # lr_t = (lr - min_lr) * decay^t + min_lr in the paper's code; optax's exponential decay over
    # `steps` reaches lr * decay^steps, floored at min_lr.
    return TrainConfig(steps=s.steps, lr=s.lr, schedule="exponential",
                       decay_rate=float(s.lr_decay ** s.steps), min_lr=s.min_lr, clip_norm=s.clip,
                       seed=s.seed, log_every=s.log_every, eval_every=s.eval_every,
                       ckpt_every=s.ckpt_every, keep=2, progress=s.progress)


def check_resume(ckpt: Checkpointer, cfg: sr.SketchConfig):
    """Refuse to resume a run whose stored model differs in shape; log other config changes."""
    if ckpt.latest_step() is None:
        return
    stored = ckpt.read_meta().get("config", {})
    diffs = {k: (stored.get(k), v) for k, v in cfg.to_dict().items() if stored.get(k, v) != v}
    arch = [f"{k}: stored {a!r}, asked {b!r}" for k, (a, b) in diffs.items() if k in ARCH_FIELDS]
    if arch:
        raise ValueError(f"{ckpt.directory} holds a different model ({'; '.join(arch)}); use another "
                         f"checkpoint directory or the stored sizes")
    for k, (a, b) in diffs.items():
        log.warning("resuming %s with %s=%r (the run started with %r)", ckpt.directory, k, b, a)


def init_source(directory, cfg: sr.SketchConfig, scale, params_like):
    """``(params, {"dir", "step"})`` of a checkpoint (a run or an export) to start a new run from. Its
    architecture fields and data scale factor must match this run's; the params' shapes are checked."""
    from jaxseq.training.checkpoint import load_for_sampling
    params, meta = load_for_sampling(directory)
    stored = meta.get("config", {})
    diffs = [f"{k}: checkpoint has {stored.get(k)!r}, this run asks for {getattr(cfg, k)!r}"
             for k in ARCH_FIELDS if stored.get(k) != getattr(cfg, k)]
    if abs(float(meta.get("scale", scale)) - scale) > 1e-4 * scale:
        diffs.append(f"data scale factor: checkpoint {meta.get('scale')!r}, this data {scale!r} "
                     f"(another data set?)")
    shapes = jax.tree_util.tree_map(np.shape, params)
    if not diffs and shapes != jax.tree_util.tree_map(np.shape, params_like):
        diffs.append("params shapes differ")
    if diffs:
        raise ValueError(f"--init-from {directory} does not fit this run: {'; '.join(diffs)}")
    return jax.tree_util.tree_map(jax.numpy.asarray, params), {"dir": str(directory),
                                                              "step": int(meta.get("step") or 0)}


def train(cfg: sr.SketchConfig, settings: TrainSettings, data, ckpt_dir, *, info=None,
          time_budget_s=None, init_from=None):
    """Train (or resume) a model on ``data`` (``{split: [stroke-3 arrays]}`` from
    :func:`jaxseq.data.sketches.load`), checkpointing into ``ckpt_dir``.

    ``init_from``: a checkpoint whose params start a *new* run (fresh optimizer and schedules, step 0),
    e.g. to fine-tune with another KL weight; ignored with a log line when ``ckpt_dir`` already holds a
    run (resuming wins).

    ``info`` (``name``: the data set's short name; ``data``, ``category``, ``data_dir``: how to find it
    again for evaluation) is stored in the checkpoint meta beside the settings. Returns
    ``(params, history, ckpt_dir)``; a finished run only evaluates (see ``fit``).
    """
    ckpt_dir = as_path(ckpt_dir)   # gs://bucket/run stays a URI
    s = settings
    scale = sd.scale_factor(data["train"])
    batch_fn = sd.BatchMaker(data["train"], scale, cfg.max_len, s.batch_size, seed=s.seed,
                             augment=s.augment, drop_prob=s.drop_prob, dequant=s.dequant)
    valid = list(sd.eval_batches(data["valid"], scale, cfg.max_len, s.batch_size))
    examples = [x.astype(np.float32).round(3).tolist() for x in data["test"][:N_EXAMPLES]]
    info = dict(info or {})
    meta = {"model": "sketch_rnn", "config": cfg.to_dict(), "scale": scale,
            "data": info.get("name", info.get("data", "")),
            "train": {**info, **dataclasses.asdict(s)}, "examples": examples,
            "min_len": int(min(len(x) for x in data["train"]))}   # the sampler's shortest drawing

    def eval_fn(params, step):
        return sr.evaluate(params, cfg, valid, jax.random.PRNGKey(s.seed + 7))

    def sample_fn(params, step):
        if not s.samples or (step % s.sample_every and step != s.steps):
            return
        s5 = ss.sample(params, cfg, jax.random.PRNGKey(step), n=s.samples,   # on every process
                       min_len=meta["min_len"])
        if not is_main_process():   # process 0 alone writes the grid
            return
        path = ss.save_grid(ckpt_dir / "samples" / f"step{step:07d}.png", ss.to_stroke3_list(s5, scale))
        log.info("samples: %s", path)

    params = jax.jit(sr.init, static_argnums=1)(jax.random.PRNGKey(s.seed), cfg)   # one compile, not one per op
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
    log.info("model: %s, %s params, scale factor %.4f, devices %s",
             "conditional" if cfg.conditional else "unconditional", f"{n_params:,}", scale, jax.devices())
    ckpt = Checkpointer(ckpt_dir, keep=2, best_metric=BEST_METRIC)
    try:
        check_resume(ckpt, cfg)
        if init_from and ckpt.latest_step() is not None:
            log.info("%s already holds a run: resuming it (init_from only seeds a new run)", ckpt_dir)
        elif init_from:
            params, meta["init_from"] = init_source(init_from, cfg, scale, params)
            log.info("initialised from %s (step %d); fresh optimizer, step 0", *meta["init_from"].values())
        params, hist = fit(sr.make_loss(cfg), params, batch_fn, train_config(s), eval_fn=eval_fn,
                           sample_fn=sample_fn, ckpt=ckpt, meta=meta, time_budget_s=time_budget_s)
        log.info("checkpoints in %s (steps %s, best %s)", ckpt_dir, ckpt.all_steps(), ckpt.best_step())
    finally:
        ckpt.close()
    return params, hist, ckpt_dir

