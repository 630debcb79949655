"""Training a seq2seq model (``simple``, ``tutorial-attn``, ``transformer``) on the eng-fra pairs.

The data is Luong NMT's own (:func:`jaxseq.models.nmt.training.prepare` with the tutorial-normalised
text): the same filter, the same seeded split and the same vocabularies, so every model of the comparison
table is trained and tested on identical pairs. Evaluation (validation loss, greedy BLEU, test BLEU/chrF
greedy and beam) goes through :mod:`.decode` (one search) and :mod:`jaxseq.metrics` (one BLEU/chrF).
"""
from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from jaxseq import metrics
from jaxseq.data import eng_fra
from jaxseq.errors import DataError
from jaxseq.models.nmt import training as nmt_training
from jaxseq.models.seq2seq import common, decode

FAMILY = "seq2seq"


@dataclasses.dataclass
class Config:
    """One training run; saved as ``meta["config"]``. Fields a model does not use are ignored by it."""
    model: str = "simple"           # simple | tutorial-attn | transformer
    lang: str = "eng-fra"
    filter: str = "tutorial"        # the data of Luong NMT's runs: tutorial (~10.5k pairs) or none
    min_count: int = 3              # words seen fewer times in training become <unk> (NMT --config large)
    split_seed: int = 0
    # recurrent models (simple, tutorial-attn)
    emb: int = 256
    hidden: int = 512
    cell: str = "gru"               # simple: gru | lstm (tutorial-attn is a GRU, as in the tutorial)
    layers: int = 1                 # simple only
    bidirectional: bool = False     # simple only (encoder)
    tf_ratio: float = 0.5           # teacher-forcing ratio (the tutorial's 0.5)
    max_length: int = 10            # tutorial-attn: encoder positions the attention scores
    # transformer
    d_model: int = 256
    heads: int = 4
    ff: int = 1024
    enc_layers: int = 3
    dec_layers: int = 3
    label_smoothing: float = 0.0
    # shared
    dropout: float = 0.1
    unroll: int = 1
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-3
    schedule: str = "cosine"
    warmup: int = 100
    clip_norm: float = 5.0
    seed: int = 0
    eval_every: int = 1000
    ckpt_every: int = 1000
    eval_sentences: int = 500
    beam: int = 5
    alpha: float = 1.0

    def __post_init__(self):
        if self.model not in common.MODELS:
            raise ValueError(f"model = {self.model!r}: choose one of {', '.join(common.MODELS)}")
        for name in ("min_count", "emb", "hidden", "layers", "max_length", "d_model", "heads", "ff",
                     "enc_layers", "dec_layers", "unroll", "steps", "batch_size", "eval_sentences", "beam"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: give a value of at least 1")
        for name in ("warmup", "clip_norm", "alpha", "eval_every", "ckpt_every"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} = {getattr(self, name)}: must be >= 0")
        for name in ("tf_ratio", "label_smoothing"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} = {getattr(self, name)}: give a value in [0, 1]")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout = {self.dropout}: a probability in [0, 1)")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        if self.cell not in ("gru", "lstm"):
            raise ValueError(f"cell = {self.cell!r}: choose gru or lstm")
        if self.model == "transformer" and self.d_model % (2 * self.heads):
            raise ValueError(f"d_model = {self.d_model}: must be a multiple of 2 * heads ({2 * self.heads})")

    from_meta = classmethod(nmt_training.Config.from_meta.__func__)   # unknown keys of a meta ignored


# per-model defaults (the CLI shows them for the chosen --model); the transformer recipe of
# Vaswani et al. scaled down: warm-up, label smoothing 0.1, dropout 0.1
MODEL_DEFAULTS = {
    "simple": {},
    "tutorial-attn": {},
    "transformer": dict(lr=7e-4, warmup=400, label_smoothing=0.1, clip_norm=1.0),
}


def model_config(cfg: Config, src_vocab: int, tgt_vocab: int):
    """The frozen model config of ``cfg.model`` (only the fields that model has)."""
    cls = common.module(cfg.model).Config
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(src_vocab=src_vocab, tgt_vocab=tgt_vocab,
               **{k: v for k, v in dataclasses.asdict(cfg).items() if k in fields - {"src_vocab", "tgt_vocab"}})


def config_from_json(name, d):
    return common.module(name).Config(**d)


# the optimiser settings of Luong NMT's runs (Adam, warm-up then cosine to 5 % of the peak, clipping)
train_config = nmt_training.train_config


def data_config(cfg: Config) -> nmt_training.Config:
    """The NMT run config whose data :func:`prepare` loads: same filter, split seed and min count."""
    return nmt_training.Config(lang=cfg.lang, filter=cfg.filter, min_count=cfg.min_count,
                               split_seed=cfg.split_seed)


def prepare(cfg: Config, data_dir=None, path=None) -> nmt_training.Data:
    """Luong NMT's data for the same settings (pairs, split, vocabularies, encoded pairs, references).
    A tutorial-attn model must see every training source within its ``max_length`` positions."""
    data = nmt_training.prepare(data_config(cfg), data_dir, path)
    if cfg.model == "tutorial-attn":
        longest = max(len(s) for s, _ in data.enc["train"])
        if longest > cfg.max_length:
            raise DataError(f"the longest training source has {longest} tokens (with <eos>) but "
                            f"max_length is {cfg.max_length}: the tutorial decoder attends over a fixed "
                            f"window; give --max-length {longest} or more")
    return data


def make_meta(cfg: Config, mcfg, data) -> dict:
    """Everything a checkpoint needs to translate: the run and model configs, both vocabularies, the
    split (``family`` tells :func:`jaxseq.data.files.checkpoint_kind` what it is)."""
    return {"family": FAMILY, "model_name": cfg.model, "lang": cfg.lang, "config": dataclasses.asdict(cfg),
            "model": mcfg.to_json(), "src_vocab": data.src_v.to_json(), "tgt_vocab": data.tgt_v.to_json(),
            "split": {"seed": cfg.split_seed, "filter": cfg.filter, "n_pairs": len(data.tok),
                      "test_indices": data.split["test"].tolist()}}


def _texts(data, ids):
    return [" ".join(data.tgt_v.decode(h)) for h in ids]


def make_eval_fn(cfg: Config, mcfg, data, bounds):
    """``eval_fn(params, step)`` for ``fit``: validation loss/NLL/accuracy, greedy BLEU on the first
    ``cfg.eval_sentences`` validation pairs, and training target tokens/s since the last call (count
    them with the returned ``count(batch)``); Luong NMT's validation with this family's loss and search."""
    return nmt_training.validation(common.make_loss(mcfg),
                                   lambda p, srcs, **kw: decode.translate_ids(p, mcfg, srcs, **kw), data,
                                   cfg.eval_sentences, min(cfg.batch_size, 128), bounds, ("loss", "nll", "acc"))


def throughput(history) -> dict:
    """Training speed from ``fit``'s history rows (any model whose loss reports ``tokens``, Luong NMT's
    too): ``tokens_per_s``, the median over logging intervals of target tokens/s (the first interval,
    which compiles, left out; robust to the intervals that hold an evaluation), and ``seconds``, the
    summed wall time of all intervals (compilation and evaluations included)."""
    rows = [h for h in history if "steps_per_s" in h and "tokens" in h]
    if not rows:
        return {"tokens_per_s": None, "seconds": None}
    secs, prev = 0.0, 0
    for h in rows:
        secs += (h["step"] - prev) / h["steps_per_s"]
        prev = h["step"]
    rates = [h["tokens"] * h["steps_per_s"] for h in rows[1:]] or [rows[0]["tokens"] * rows[0]["steps_per_s"]]
    return {"tokens_per_s": float(np.median(rates)), "seconds": secs}


def unseen_sources(data) -> np.ndarray:
    """Indices of test pairs whose source sentence never occurs in training (the split is by pair and
    the corpus repeats sources with other translations)."""
    train = {data.srcs["train"][i] for i in range(len(data.srcs["train"]))}
    return np.array([i for i, s in enumerate(data.srcs["test"]) if s not in train], int)


def test_scores(params, mcfg, data, beam=5, alpha=1.0, limit=None):
    """Greedy and beam decoding of the test split (its first ``limit`` pairs if given): BLEU and chrF of
    both, BLEU of the beam output on test pairs with a source unseen in training, decode time.
    -> (results dict, {"greedy": hyp strings, "beam": hyp strings})."""
    def search(srcs, k):
        return _texts(data, decode.translate_ids(params, mcfg, srcs, beam=k, alpha=alpha, bounds=data.bounds))

    refs, hyps, secs = nmt_training.decode_test(data, search, (("greedy", 1), ("beam", beam)), limit)
    res = {"test_sentences": len(refs), "beam": beam, "alpha": alpha}
    for name in hyps:
        res[f"seconds_{name}"] = secs[name]
        res[f"bleu_{name}"] = metrics.bleu(hyps[name], refs)
        res[f"chrf_{name}"] = metrics.chrf(hyps[name], refs)
    unseen = [i for i in unseen_sources(data) if i < len(refs)]
    res["unseen_sentences"] = len(unseen)
    if unseen:
        res["bleu_beam_unseen"] = metrics.bleu([hyps["beam"][i] for i in unseen], [refs[i] for i in unseen])
    return res, hyps


@dataclasses.dataclass
class Run:
    """What :func:`train` returns: trained params, the model config, the checkpoint meta, ``fit``'s
    history, the step reached, the parameter count and the wall time of ``fit``."""
    params: dict
    mcfg: object
    meta: dict
    history: list
    step: int
    n_params: int
    train_seconds: float


def train(cfg: Config, data, ckpt, time_budget_s=None) -> Run:
    """Initialise (or resume from ``ckpt``, a :class:`jaxseq.training.checkpoint.Checkpointer`) and
    train with :func:`jaxseq.training.loop.fit` on bucketed batches of the training split."""
    from jaxseq.data.batching import process_rows
    from jaxseq.data.files import require_kind
    from jaxseq.training.loop import fit
    mcfg = model_config(cfg, len(data.src_v), len(data.tgt_v))
    params = common.module_of(mcfg).init(jax.random.PRNGKey(cfg.seed), mcfg)
    batches = eng_fra.BucketedBatches(data.enc["train"], cfg.batch_size, seed=cfg.seed)
    eval_fn, count = make_eval_fn(cfg, mcfg, data, batches.bounds)
    meta = make_meta(cfg, mcfg, data)
    if ckpt.latest_step():
        require_kind(ckpt.directory, ckpt.read_meta(), "seq2seq")
    t0 = time.perf_counter()
    params, hist = fit(common.make_loss(mcfg), params, lambda s: process_rows(count(batches(s))),
                       train_config(cfg), eval_fn=eval_fn, ckpt=ckpt, meta=meta, time_budget_s=time_budget_s)
    return Run(params, mcfg, meta, hist, hist.step, common.count_params(params), time.perf_counter() - t0)
