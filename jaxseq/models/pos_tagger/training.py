"""Training the tagger: the experiment's config, ``loop.fit`` over padded sentence batches with a
checkpoint (resume, time budget), and tag accuracy on a tagged set."""
from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from jaxseq.data.batching import batch_indices
from jaxseq.errors import DataError
from jaxseq.models.pos_tagger import model as tm
from jaxseq.models.pos_tagger.data import Vocabs, encode
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, evaluate, fit, make_eval_step

FAMILY = "pos tagger"


@dataclasses.dataclass
class TaggerConfig:
    embed: int = 32               # word embedding size
    hidden: int = 64              # word LSTM size
    use_chars: bool = True        # the character LSTM over each word's letters
    char_embed: int = 16          # character embedding size
    char_hidden: int = 32         # character LSTM size
    max_word_len: int = 20        # letters the character LSTM reads per word
    min_count: int = 1            # rarer training words become <unk>
    tagset: str = "upos"          # CoNLL-U column: upos or xpos
    batch_size: int = 32          # sentences per step (at most the training set)
    steps: int = 300
    lr: float = 1e-2              # Adam
    eval_every: int = 100
    seed: int = 0

    def __post_init__(self):
        for name in ("embed", "hidden", "char_embed", "char_hidden", "max_word_len", "min_count",
                     "batch_size", "steps", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: must be > 0")
        if self.tagset not in ("upos", "xpos"):
            raise ValueError(f"tagset = {self.tagset!r}: choose upos or xpos")


def model_config(cfg: TaggerConfig, vocabs: Vocabs) -> tm.TaggerModelConfig:
    return tm.TaggerModelConfig(len(vocabs.words), vocabs.chars.size, len(vocabs.tags), cfg.embed,
                                cfg.hidden, cfg.use_chars, cfg.char_embed, cfg.char_hidden)


def batches(tagged, vocabs, batch_size, max_word_len):
    """Every sentence once, in order, padded to the longest; the last batch filled with empty rows."""
    out = []
    for i in range(0, len(tagged), batch_size):
        chunk = tagged[i:i + batch_size]
        b = encode([w for w, _ in chunk], vocabs, [t for _, t in chunk], max_word_len=max_word_len)
        pad = batch_size - len(chunk)
        if pad:
            b = {k: np.concatenate([v, np.zeros((pad,) + v.shape[1:], v.dtype)]) for k, v in b.items()}
        out.append(b)
    return out


def accuracy(params, tagged, vocabs, batch_size=64, max_word_len=20):
    """Word-level tag accuracy over ``tagged`` sentences."""
    def counts(p, b, key, step):
        m = b["word_mask"]
        return ((tm.logits(p, b).argmax(-1) == b["tags"]) * m).sum(), {"n": m.sum()}
    m = evaluate(make_eval_step(counts), params, batches(tagged, vocabs, batch_size, max_word_len),
                 jax.random.PRNGKey(0))
    return m["loss"] / max(m["n"], 1.0)   # means over the same batches: their ratio is the sums' ratio


def train(cfg: TaggerConfig, train_set, vocabs: Vocabs, ckpt_dir, *, dev_set=None, source="",
          time_budget_s=None, log=None, progress=True):
    """Train (resuming from ``ckpt_dir``); returns ``(params, history, seconds)``."""
    if not train_set:
        raise DataError(f"{source or 'training set'}: no tagged sentences (an empty corpus)")
    bs = min(cfg.batch_size, len(train_set))
    data = encode([w for w, _ in train_set], vocabs, [t for _, t in train_set], max_word_len=cfg.max_word_len)
    mcfg = model_config(cfg, vocabs)
    params = tm.init(jax.random.PRNGKey(cfg.seed), mcfg)

    def batch_fn(step):
        i = batch_indices(step, len(train_set), bs, seed=cfg.seed)
        return {k: v[i] for k, v in data.items()}

    eval_fn = None
    if dev_set:
        def eval_fn(p, step):
            return {"accuracy": accuracy(p, dev_set, vocabs, 64, cfg.max_word_len)}
    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, clip_norm=5.0, seed=cfg.seed, log_every=50,
                       eval_every=cfg.eval_every if dev_set else 0, keep=1, progress=progress)
    meta = {"family": FAMILY, "source": source, "config": dataclasses.asdict(cfg),
            "model": dataclasses.asdict(mcfg), "vocabs": vocabs.to_json()}
    ckpt = Checkpointer(as_path(ckpt_dir), keep=1)
    t0 = time.time()
    try:
        if ckpt.latest_step() is not None and ckpt.read_meta().get("family") != FAMILY:
            raise DataError(f"{ckpt_dir} holds a checkpoint that is not a {FAMILY}; give a new folder")
        params, hist = fit(tm.loss_fn, params, batch_fn, tcfg, eval_fn=eval_fn, ckpt=ckpt, meta=meta,
                           log=log, time_budget_s=time_budget_s)
    finally:
        ckpt.close()
    return params, hist, time.time() - t0
