"""The scheduled-sampling experiment (Bengio et al. 2015) on a character LSTM: its configuration, the
teacher-forcing probability schedule over steps, and one training run (teacher forcing or scheduled
sampling) that records validation NLL and free-running sample quality every ``eval_every`` steps.

Both modes of a pair share seed, data order, initialisation and step count; they differ only in the loss.
"""
from __future__ import annotations

import dataclasses
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import shakespeare
from jaxseq.data.batching import process_rows
from jaxseq.data.charset import Charset
from jaxseq.data.files import require_kind
from jaxseq.errors import DataError
from jaxseq.models.char_lm import model as cr
from jaxseq.models.char_lm.ngram import CharNGram, sample_quality, word_set
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, fit
from jaxseq.training.schedules import SCHEDULES, teacher_forcing_prob

MODES = ("tf", "ss")
PREFIX_LEN = 32        # characters of real validation text each free-running sample continues
VAL_WINDOW = 257       # validation bits/char: windows of 256 predicted characters (+ the first)


@dataclasses.dataclass
class SSConfig:
    steps: int = 2000             # training steps per run
    batch_size: int = 32          # sequences per batch
    seq_len: int = 100            # characters predicted per sequence
    embed: int = 32               # character embedding size
    hidden: int = 128             # LSTM size
    layers: int = 1               # LSTM layers
    lr: float = 2e-3              # Adam learning rate (cosine-decayed to lr / 10)
    schedule: str = "linear"      # decay of eps, the probability of feeding the truth (§2.4)
    eps_min: float = 0.5          # floor of eps
    k: float = 0.0                # schedule parameter; 0 picks one from steps (see eps_schedule)
    eval_every: int = 200         # steps between evaluations
    n_samples: int = 32           # free-running samples per evaluation
    sample_len: int = 300         # characters per free-running sample
    temperature: float = 1.0      # sampling temperature of the free-running samples
    seed: int = 0                 # init, batches and sampling

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        for name in ("steps", "batch_size", "seq_len", "embed", "hidden", "layers", "n_samples",
                     "sample_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")
        if not 0.0 <= self.eps_min <= 1.0:
            raise ValueError(f"eps_min = {self.eps_min}: a probability in [0, 1]")
        if not self.temperature > 0:
            raise ValueError(f"temperature = {self.temperature}: must be > 0")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        if self.eval_every < 1:
            raise ValueError(f"eval_every = {self.eval_every}: must be at least 1")


def eps_schedule(cfg: SSConfig):
    """``eps(step)``: linear reaches ``eps_min`` at 75 % of the steps when ``k`` is 0 (else ``k`` is the
    slope); exponential: base ``k`` (0: reach ``eps_min`` at 75 %); inverse_sigmoid: ``k`` (0: steps/10);
    constant: ``k`` (0: 1)."""
    if cfg.schedule == "linear":
        c = (1.0 - cfg.eps_min) / (0.75 * cfg.steps) if cfg.k == 0 else cfg.k
        return lambda s: teacher_forcing_prob(s, "linear", k=1.0, c=c, eps_min=cfg.eps_min)
    k = cfg.k or {"exponential": cfg.eps_min ** (1.0 / (0.75 * cfg.steps)),
                  "inverse_sigmoid": max(cfg.steps / 10.0, 1.0), "constant": 1.0}[cfg.schedule]
    return lambda s: teacher_forcing_prob(s, cfg.schedule, k=k, eps_min=cfg.eps_min)


def model_config(cfg: SSConfig, charset: Charset) -> cr.CharRNNConfig:
    return cr.CharRNNConfig(charset.size, cfg.embed, cfg.hidden, cfg.layers)


def loss_for(mode, cfg: SSConfig):
    """``loss_fn(params, batch, key, step)`` of ``mode`` ('tf' or 'ss')."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    return cr.tf_loss if mode == "tf" else cr.make_ss_loss(eps_schedule(cfg))


class Yardstick:
    """The network-independent scores of generated text: a Witten-Bell 5-gram model and the word set of
    the training text."""

    def __init__(self, train_text, alphabet, order=5):
        self.lm = CharNGram(train_text, order=order, alphabet=alphabet)
        self.words = word_set(train_text)

    def bits_per_char(self, text, context=""):
        return self.lm.bits_per_char(text, context)

    def score(self, texts, contexts):
        return sample_quality(texts, contexts, self.lm, self.words)


def check_corpus(cfg: SSConfig, train_ids, val_ids, source="the text"):
    """A :class:`DataError` naming ``source`` when the training or validation part is too short for
    ``cfg.seq_len`` windows or the fixed validation windows."""
    need = max(cfg.seq_len + 1, VAL_WINDOW, PREFIX_LEN) + 1
    if min(len(train_ids), len(val_ids)) < need:
        raise DataError(f"{source}: {len(train_ids) + len(val_ids)} characters are too few: its training "
                        f"and validation parts ({len(train_ids)} and {len(val_ids)}) need at least {need} "
                        f"each (seq_len {cfg.seq_len}, validation windows of {VAL_WINDOW})")


def make_eval_fn(cfg: SSConfig, val, charset: Charset, yardstick: Yardstick, last=None):
    """``eval_fn(params, step) -> metrics``: teacher-forced validation bits/char on 64 fixed windows of
    256 characters, and the yardstick's scores of ``n_samples`` continuations of evenly spread
    validation prefixes. ``last["samples"]`` receives the ``prefix|continuation`` strings."""
    last = {} if last is None else last
    val_b = jnp.asarray(shakespeare.random_windows(val, 0, 64, VAL_WINDOW, seed=cfg.seed + 99))
    prefixes = shakespeare.spread_windows(val, cfg.n_samples, PREFIX_LEN)
    ctx = [charset.decode(t) for t in prefixes]
    val_nll = jax.jit(lambda p: cr.tf_loss(p, {"tokens": val_b}, None)[0])
    gen = jax.jit(lambda p, k: cr.sample(p, k, jnp.asarray(prefixes), cfg.sample_len, cfg.temperature))

    def eval_fn(params, step):
        texts = [charset.decode(t) for t in np.asarray(gen(params, jax.random.PRNGKey(cfg.seed + 5)))]
        last["samples"] = [c + "|" + t for c, t in zip(ctx, texts)]
        return {"bits_per_char": float(val_nll(params)) / math.log(2.0), **yardstick.score(texts, ctx)}
    return eval_fn


def train(cfg: SSConfig, mode, train_ids, val_ids, charset: Charset, yardstick: Yardstick, ckpt_dir, *,
          time_budget_s=None, log=None):
    """Train one ``mode`` run into ``ckpt_dir`` (resuming or, when finished, only evaluating).

    Returns ``(params, history, samples, seconds)``; ``history`` as :func:`jaxseq.training.loop.fit`.
    """
    mcfg = model_config(cfg, charset)
    params = cr.init(jax.random.PRNGKey(cfg.seed), mcfg)

    def batch_fn(step):   # the global batch's windows; on several processes each feeds its block
        return process_rows({"tokens": shakespeare.random_windows(train_ids, step, cfg.batch_size,
                                                                  cfg.seq_len + 1, cfg.seed)})

    last = {}
    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1,
                       clip_norm=5.0, seed=cfg.seed, log_every=50, eval_every=cfg.eval_every, keep=1)
    ckpt = Checkpointer(as_path(ckpt_dir), keep=1)
    meta = {"config": dataclasses.asdict(cfg), "mode": mode, "charset": charset.to_json(),
            "model": dataclasses.asdict(mcfg)}
    t0 = time.time()
    try:
        if ckpt.latest_step() is not None:   # resuming: only from a character LM run
            require_kind(ckpt_dir, ckpt.read_meta(), "character LM")
        params, hist = fit(loss_for(mode, cfg), params, batch_fn, tcfg,
                           eval_fn=make_eval_fn(cfg, val_ids, charset, yardstick, last), ckpt=ckpt,
                           meta=meta, log=log, time_budget_s=time_budget_s)
    finally:
        ckpt.close()
    return params, hist, last.get("samples", []), time.time() - t0
