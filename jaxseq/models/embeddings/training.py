"""One embedding training run: the experiment's config, examples from a corpus, ``loop.fit`` with a
checkpoint (resume, time budget), and the held-out yardstick shared by every loss: the mean full-softmax
NLL of held-out examples (for skip-gram, the held-out skip-gram log-likelihood per pair)."""
from __future__ import annotations

import dataclasses
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.batching import batch_indices
from jaxseq.errors import DataError
from jaxseq.models.embeddings import corpus as wc
from jaxseq.models.embeddings.losses import SAMPLERS
from jaxseq.models.embeddings.model import LOSSES, MODELS, EmbedModelConfig, Noise, init, make_loss
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, evaluate, fit, make_eval_step

FAMILY = "word embeddings"      # meta["family"]: what api.load accepts
DEFAULT_SAMPLER = {"nce": "log_uniform", "neg": "unigram75", "softmax": "log_uniform"}
EVAL_BATCH = 1024
OPTIMIZERS = ("sgd", "adam", "rmsprop")


@dataclasses.dataclass
class EmbedConfig:
    model: str = "skipgram"       # ngram | cbow | skipgram
    loss: str = "neg"             # softmax | nce (tf.nn.nce_loss) | neg (word2vec negative sampling)
    dim: int = 100                # embedding size
    window: int = 2               # ngram: previous words; cbow / skipgram: words either side
    hidden: int = 128             # ngram's ReLU layer
    num_sampled: int = 32         # noise words: per batch (nce, shared as in tf) / per example (neg)
    sampler: str = "auto"         # auto (nce: log_uniform as tf; neg: unigram75 as word2vec) | ...
    bias_init: str = "zero"       # output biases: zero (as tf's NCE example) | unigram (log frequency)
    min_count: int = 3            # rarer training words become <unk>
    valid_fraction: float = 0.05  # held-out sentences (seeded)
    batch_size: int = 512
    steps: int = 4000
    optimizer: str = "sgd"        # sgd (momentum 0.9, as word2vec's plain SGD) | adam | rmsprop
    lr: float = 1.0               # cosine-decayed to lr / 10 (the loss is a batch mean)
    eval_every: int = 1000
    eval_examples: int = 20480    # held-out examples scored (a fixed seeded subset)
    seed: int = 0

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model = {self.model!r}: choose one of {MODELS}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss = {self.loss!r}: choose one of {LOSSES}")
        if self.bias_init not in ("zero", "unigram"):
            raise ValueError(f"bias_init = {self.bias_init!r}: choose zero or unigram")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer = {self.optimizer!r}: choose one of {OPTIMIZERS}")
        if self.sampler != "auto" and self.sampler not in SAMPLERS:
            raise ValueError(f"sampler = {self.sampler!r}: choose auto or one of {SAMPLERS}")
        for name in ("dim", "window", "hidden", "num_sampled", "min_count", "batch_size", "steps",
                     "eval_every", "eval_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: must be > 0")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"valid_fraction = {self.valid_fraction}: must lie in (0, 1)")

    @property
    def noise_kind(self) -> str:
        return DEFAULT_SAMPLER[self.loss] if self.sampler == "auto" else self.sampler


def model_config(cfg: EmbedConfig, vocab_size) -> EmbedModelConfig:
    return EmbedModelConfig(vocab_size, cfg.model, cfg.dim, cfg.window, cfg.hidden)


def unigram_bias(counts):
    """``log`` of each word's training frequency (``count + 0.5`` smoothed), float32 ``[V]``."""
    c = np.asarray(counts, np.float64) + 0.5
    return jnp.asarray(np.log(c / c.sum()), jnp.float32)


def eval_batches(x, y, n, seed=0):
    """A fixed seeded subset of ``n`` examples (all when fewer) in batches of :data:`EVAL_BATCH` (the
    last padded by repeating, with ``w`` marking real rows)."""
    idx = np.random.default_rng([seed, 7]).permutation(len(y))[:n]
    out = []
    for i in range(0, len(idx), EVAL_BATCH):
        j = idx[i:i + EVAL_BATCH]
        w = np.ones(EVAL_BATCH, np.float32)
        w[len(j):] = 0.0
        j = np.resize(j, EVAL_BATCH)
        out.append({"x": x[j], "y": y[j], "w": w})
    return out


def make_heldout_fn(mcfg: EmbedModelConfig, batches):
    """``eval_fn(params, step) -> {"nll", "ppl"}``: the mean full-softmax NLL (nats) of the held-out
    examples and its perplexity."""
    from jaxseq.models.embeddings.model import example_losses

    def weighted(params, batch, key, step):
        nll = example_losses(params, mcfg, batch, None, "softmax")
        return (nll * batch["w"]).sum(), {"n": batch["w"].sum()}
    step_fn = make_eval_step(weighted)

    def eval_fn(params, step):
        if not batches:
            return {}
        m = evaluate(step_fn, params, batches, jax.random.PRNGKey(0))
        nll = m["loss"] / m["n"]
        return {"nll": nll, "ppl": math.exp(min(nll, 50.0))}
    return eval_fn


def check_examples(cfg: EmbedConfig, n_train, n_valid, source):
    if n_train < cfg.batch_size:
        raise DataError(f"{source}: only {n_train} training examples for the {cfg.model} model; a batch "
                        f"needs {cfg.batch_size} (use a larger corpus or a smaller --batch-size)")
    if n_valid == 0:
        raise DataError(f"{source}: no held-out examples; use a larger corpus or --valid-fraction")


def train(cfg: EmbedConfig, corp: wc.WordCorpus, ckpt_dir, *, corpus_name="", time_budget_s=None,
          log=None, progress=True):
    """Train (resuming from ``ckpt_dir``); returns ``(params, history, summary)``. ``summary`` holds the
    final held-out NLL / perplexity, training steps per second (after compilation) and sizes."""
    x, y = wc.examples(cfg.model, corp.train, cfg.window)
    vx, vy = wc.examples(cfg.model, corp.valid, cfg.window)
    check_examples(cfg, len(y), len(vy), corp.source)
    mcfg = model_config(cfg, len(corp.vocab))
    noise = None if cfg.loss == "softmax" else Noise(corp.counts, cfg.noise_kind, cfg.num_sampled)
    params = init(jax.random.PRNGKey(cfg.seed), mcfg)
    if cfg.bias_init == "unigram":   # start at the unigram LM: NCE's rare words need not be pushed down first
        params["bias"] = unigram_bias(corp.counts)

    def batch_fn(step):
        i = batch_indices(step, len(y), cfg.batch_size, seed=cfg.seed)
        return {"x": x[i], "y": y[i]}

    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1, clip_norm=0.0,
                       optimizer=cfg.optimizer,
                       seed=cfg.seed, log_every=200, eval_every=cfg.eval_every, keep=1, progress=progress)
    meta = {"family": FAMILY, "corpus": corpus_name, "config": dataclasses.asdict(cfg),
            "model": dataclasses.asdict(mcfg), "vocab": corp.vocab.to_json()}
    ckpt = Checkpointer(as_path(ckpt_dir), keep=1)
    t0 = time.time()
    try:
        if ckpt.latest_step() is not None and ckpt.read_meta().get("family") != FAMILY:
            raise DataError(f"{ckpt_dir} holds a checkpoint that is not {FAMILY}; give a new folder")
        eval_fn = make_heldout_fn(mcfg, eval_batches(vx, vy, cfg.eval_examples, cfg.seed))
        params, hist = fit(make_loss(mcfg, cfg.loss, noise), params, batch_fn, tcfg, eval_fn=eval_fn,
                           ckpt=ckpt, meta=meta, log=log, time_budget_s=time_budget_s)
    finally:
        ckpt.close()
    rates = [r["steps_per_s"] for r in hist if "steps_per_s" in r][1:]
    final = [r for r in hist if "val_nll" in r]
    summary = {"model": cfg.model, "loss": cfg.loss, "sampler": None if noise is None else noise.kind,
               "num_sampled": None if noise is None else cfg.num_sampled, "corpus": corpus_name,
               "vocab": len(corp.vocab), "train_words": corp.n_train_words, "train_examples": int(len(y)),
               "heldout_examples": int(min(len(vy), cfg.eval_examples)), "steps": hist.step,
               "heldout_nll": final[-1]["val_nll"] if final else None,
               "heldout_ppl": final[-1]["val_ppl"] if final else None,
               "train_steps_per_s": float(np.median(rates)) if rates else None,
               "examples_per_s": float(np.median(rates)) * cfg.batch_size if rates else None,
               "wall_s": round(time.time() - t0, 1), "stopped": hist.stopped}
    return params, hist, summary


def evaluate_run(params, meta, sentences):
    """``{"nll", "ppl", "heldout_examples"}`` of a trained model (``params``, its checkpoint ``meta``) on
    the held-out part of ``sentences``, split as its training run split them."""
    from jaxseq.data.vocab import Vocab
    cfg = EmbedConfig(**meta["config"])
    mcfg = EmbedModelConfig(**meta["model"])
    valid = wc.heldout(sentences, Vocab.from_json(meta["vocab"]), cfg.valid_fraction, cfg.seed)
    vx, vy = wc.examples(mcfg.model, valid, mcfg.window)
    if len(vy) == 0:
        raise DataError("no held-out examples in this corpus for the model")
    m = make_heldout_fn(mcfg, eval_batches(vx, vy, cfg.eval_examples, cfg.seed))(params, 0)
    return dict(m, heldout_examples=int(min(len(vy), cfg.eval_examples)))


# --------------------------------------------------------------------------------- word geometry
def unit_rows(e):
    e = np.asarray(e, np.float64)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def nearest(embed, ids, k, exclude=()):
    """``[(id, cosine)] * k`` nearest by cosine for each of ``ids`` (the word itself and ``exclude``
    ids skipped)."""
    u = unit_rows(embed)
    sims = u[np.asarray(ids)] @ u.T
    sims[:, list(exclude)] = -np.inf
    out = []
    for row, i in zip(sims, ids):
        row[i] = -np.inf
        top = np.argsort(-row, kind="stable")[:k]
        out.append([(int(j), float(row[j])) for j in top])
    return out


def pca_2d(vectors):
    """``[N, D]`` -> ``[N, 2]``: the projection on the two leading principal components (centred SVD)."""
    v = np.asarray(vectors, np.float64)
    v = v - v.mean(0)
    _, _, vt = np.linalg.svd(v, full_matrices=False)
    return v @ vt[:2].T
