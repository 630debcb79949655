"""Training and evaluation of the name models around :func:`jaxseq.training.loop.fit`: the run's config,
static-shape batches of the stratified split, and the held-out metrics (classifier accuracy and
confusion matrix; generator NLL per language)."""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import names as nd
from jaxseq.data.batching import batch_indices
from jaxseq.data.files import checkpoint_kind
from jaxseq.errors import DataError
from jaxseq.models.names import model as nm
from jaxseq.paths import as_path
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.loop import TrainConfig, fit

TASKS = ("classifier", "generator")
MAX_LEN = 20            # letters per training batch row (the longest name in the data has 19)
FRACTIONS = (0.8, 0.1, 0.1)
FAMILY = "names"


@dataclasses.dataclass
class NamesConfig:
    task: str = "classifier"      # classifier (language from a name) | generator (name from a language)
    cell: str = "gru"             # rnn_relu (the tutorial's seed) | rnn (tanh) | lstm | gru
    hidden: int = 128             # recurrent state size
    layers: int = 1               # generator: stacked layers
    conditional: bool = True      # generator: feed the language one-hot at every step
    dropout: float = 0.1          # generator: dropout on the top layer's output
    balanced: bool = False        # draw each batch's languages uniformly (the tutorial's sampling)
    unroll: int = 1               # lax.scan unroll: same math, fewer loop trips (faster on a GPU)
    steps: int = 3000             # optimizer steps
    batch_size: int = 64          # names per batch
    lr: float = 3e-3              # Adam learning rate (cosine-decayed to a tenth)
    clip: float = 1.0             # global gradient-norm clip
    eval_every: int = 500         # steps between validations and checkpoints (the best one is kept)
    seed: int = 0                 # init, batch order, dropout
    split_seed: int = 0           # the stratified 80/10/10 train/val/test split
    progress: bool = True         # progress bar

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task = {self.task!r}: choose one of {TASKS}")
        for n in ("steps", "batch_size", "eval_every"):
            if getattr(self, n) < 1:
                raise ValueError(f"{n} = {getattr(self, n)}: give a whole number >= 1")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        self.model_config()   # checks cell, hidden, layers, dropout

    def model_config(self, n_languages=nd.N_LANGUAGES):
        if self.task == "classifier":
            return nm.ClassifierConfig(self.cell, self.hidden, n_languages, self.unroll)
        return nm.GeneratorConfig(self.cell, self.hidden, self.layers, self.conditional, self.dropout,
                                  n_languages, self.unroll)


def model_from_meta(meta, where="the checkpoint"):
    """``(task, model config)`` of a names checkpoint's meta; DataError naming ``where`` otherwise."""
    if not isinstance(meta, dict) or meta.get("family") != FAMILY:
        kind = checkpoint_kind(meta)
        kind = "unrecognised" if kind == "unknown" else kind
        art = "an" if kind[:1] in "AEIOUaeiou" or kind.startswith("NMT") else "a"
        raise DataError(f"{where} is {art} {kind} checkpoint, "
                        f"not a names classifier or generator; give a names checkpoint directory")
    task, cfg = meta.get("task"), meta.get("model", {})
    try:
        return task, (nm.ClassifierConfig if task == "classifier" else nm.GeneratorConfig)(**cfg)
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: unusable model config in its metadata ({e}); the checkpoint is "
                        f"corrupted or from another version") from None


def loss_fn(task, mcfg):
    """``loss(params, batch, key, step)`` for ``fit`` (cached: one jitted step per model config)."""
    return _loss(task, mcfg)


@functools.lru_cache(maxsize=None)
def _loss(task, mcfg):
    f = nm.classifier_loss if task == "classifier" else nm.generator_loss
    return functools.partial(f, cfg=mcfg)


def batch_of(data: nd.Names, idx, max_len=MAX_LEN, rows=None):
    """A static-shape batch of names ``idx``: ids, lengths, labels and ``weight`` (0 on the padding rows
    added up to ``rows``)."""
    idx = np.asarray(idx)
    rows = len(idx) if rows is None else rows
    ids, lengths = nd.pad_ids([data.names[i] for i in idx], max_len)
    pad = rows - len(idx)
    w = np.concatenate([np.ones(len(idx), np.float32), np.zeros(pad, np.float32)])
    return {"ids": np.pad(ids, ((0, pad), (0, 0))), "lengths": np.pad(lengths, (0, pad)),
            "labels": np.pad(data.labels[idx], (0, pad)).astype(np.int32), "weight": w}


def balanced_indices(by_lang, step, batch_size, seed=0):
    """``batch_size`` indices, each of a uniformly drawn language (those with examples) and then a
    uniformly drawn name of it: the tutorial's ``randomTrainingExample``, batched and seeded by step."""
    langs = [ix for ix in by_lang if len(ix)]
    rng = np.random.default_rng([seed, int(step), 7])
    pick = rng.integers(0, len(langs), batch_size)
    return np.array([langs[k][rng.integers(len(langs[k]))] for k in pick])


def eval_batches(data: nd.Names, batch_size=512):
    """All of ``data`` in batches of ``batch_size`` rows (the last padded with weight 0)."""
    if len(data) == 0:
        raise DataError("no names to evaluate")
    n = len(data)
    rows = min(batch_size, n)
    return [batch_of(data, np.arange(s, min(s + rows, n)), rows=rows) for s in range(0, n, rows)]


def _check_split(train, val, test):
    for what, part in (("training", train), ("validation", val), ("test", test)):
        if len(part) == 0:
            raise DataError(f"the {what} part of the split is empty; the data set is too small")


def train(cfg: NamesConfig, data: nd.Names, ckpt_dir, *, time_budget_s=None, log=None):
    """Train ``cfg.task`` on the training part of the stratified split of ``data`` into ``ckpt_dir``
    (resumed when it holds a run of the same config; the best validation loss is kept).

    Returns ``(params, history)`` as :func:`jaxseq.training.loop.fit`.
    """
    train_d, val_d, test_d = nd.split(data, cfg.split_seed, FRACTIONS)
    _check_split(train_d, val_d, test_d)
    mcfg = cfg.model_config(len(data.languages))
    init = nm.classifier_init if cfg.task == "classifier" else nm.generator_init
    params = init(jax.random.PRNGKey(cfg.seed), mcfg)
    loss = loss_fn(cfg.task, mcfg)

    by_lang = [np.flatnonzero(train_d.labels == k) for k in range(len(data.languages))]

    def batch_fn(step):
        if cfg.balanced:
            return batch_of(train_d, balanced_indices(by_lang, step, cfg.batch_size, cfg.seed))
        return batch_of(train_d, batch_indices(step, len(train_d), cfg.batch_size, cfg.seed))

    val_b = eval_batches(val_d)
    if cfg.balanced:   # validate on the objective: every language weighs the same (balanced accuracy)
        freq = np.bincount(val_d.labels, minlength=len(data.languages)).astype(np.float64)
        inv = np.where(freq > 0, len(val_d) / (np.count_nonzero(freq) * np.maximum(freq, 1)), 0.0)
        for b in val_b:
            b["weight"] = (b["weight"] * inv[b["labels"]]).astype(np.float32)
    val_step = jax.jit(lambda p, b: loss(p, b, None, 0))

    def eval_fn(params, step):
        ms = [jax.device_get(val_step(params, b)) for b in val_b]
        w = [float(b["weight"].sum()) for b in val_b]
        loss_v = float(np.average([m[0] for m in ms], weights=w))
        out = {"loss": loss_v}
        for k in ms[0][1]:
            out[k] = float(np.average([m[1][k] for m in ms], weights=w))
        return out

    # a checkpoint at every validation, so the best validated step is among the kept ones
    tcfg = TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", min_lr=cfg.lr * 0.1,
                       clip_norm=cfg.clip, seed=cfg.seed, log_every=100, eval_every=cfg.eval_every,
                       ckpt_every=cfg.eval_every, keep=2, progress=cfg.progress)
    meta = {"family": FAMILY, "task": cfg.task, "model": dataclasses.asdict(mcfg),
            "config": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "progress"},
            "languages": list(data.languages), "alphabet": nd.ALPHABET,
            "max_len": MAX_LEN, "split": {"seed": cfg.split_seed, "fractions": list(FRACTIONS),
                                          "train": len(train_d), "val": len(val_d), "test": len(test_d)}}
    ckpt = Checkpointer(as_path(ckpt_dir), keep=2, best_metric="val_loss")
    try:
        if ckpt.latest_step() is not None:   # resuming: only a names run
            model_from_meta(ckpt.read_meta(), ckpt_dir)
        return fit(loss, params, batch_fn, tcfg, eval_fn=eval_fn, ckpt=ckpt, meta=meta, log=log,
                   time_budget_s=time_budget_s)
    finally:
        ckpt.close()


# ---------------------------------------------------------------------------------- held-out metrics
@functools.partial(jax.jit, static_argnums=1)
def _classify(params, cfg, ids, lengths):
    return nm.classify(params, cfg, ids, lengths)


@functools.partial(jax.jit, static_argnums=1)
def _name_nll(params, cfg, ids, lengths, langs):
    return nm.name_nll(params, cfg, ids, lengths, langs)


def classifier_metrics(params, cfg: nm.ClassifierConfig, data: nd.Names):
    """Accuracy, balanced accuracy (mean per-language recall), mean NLL and the confusion matrix
    ``[true, predicted]`` (counts) over ``data``."""
    pred, nll = [], []
    for b in eval_batches(data):
        logp = np.asarray(_classify(params, cfg, b["ids"], b["lengths"]))
        n = int(b["weight"].sum())
        pred.append(logp[:n].argmax(-1))
        nll.append(-logp[np.arange(n), b["labels"][:n]])
    pred, nll = np.concatenate(pred), np.concatenate(nll)
    K = cfg.n_languages
    conf = np.zeros((K, K), np.int64)
    np.add.at(conf, (data.labels, pred), 1)
    recall = np.diag(conf) / np.maximum(conf.sum(1), 1)
    return {"accuracy": float((pred == data.labels).mean()), "balanced_accuracy": float(recall.mean()),
            "nll": float(nll.mean()), "n": len(data), "confusion": conf.tolist(),
            "recall": dict(zip(data.languages, map(float, recall)))}


def generator_metrics(params, cfg: nm.GeneratorConfig, data: nd.Names):
    """NLL in nats per token (letters + end) over ``data``, overall and per language, and per name."""
    tot, cnt = [], []
    for b in eval_batches(data):
        nll, n = _name_nll(params, cfg, b["ids"], b["lengths"], b["labels"])
        k = int(b["weight"].sum())
        tot.append(np.asarray(nll)[:k])
        cnt.append(np.asarray(n)[:k])
    tot, cnt = np.concatenate(tot).astype(np.float64), np.concatenate(cnt).astype(np.float64)
    per_lang = {}
    for k, lang in enumerate(data.languages):
        m = data.labels == k
        if m.any():
            per_lang[lang] = {"nll_per_token": float(tot[m].sum() / cnt[m].sum()),
                              "nll_per_name": float(tot[m].mean()), "n": int(m.sum())}
    return {"nll_per_token": float(tot.sum() / cnt.sum()), "nll_per_name": float(tot.mean()),
            "n": len(data), "per_language": per_lang}
