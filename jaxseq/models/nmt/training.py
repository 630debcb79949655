"""Training an NMT model on the eng-fra pairs: the run config (with the ``small``/``large`` presets),
data preparation (filter, fixed split, vocabularies, encoded pairs), the checkpoint meta, the validation
function for :func:`jaxseq.training.loop.fit` and the test-set BLEU report."""
from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from jaxseq import metrics
from jaxseq.data import eng_fra
from jaxseq.data.vocab import Vocab
from jaxseq.models.nmt import model as nmt
from jaxseq.models.nmt import translate as decode
from jaxseq.training.loop import TrainConfig, evaluate, make_eval_step

SPLIT = (0.9, 0.05, 0.05)


@dataclasses.dataclass
class Config:
    """One training run (data, model, optimiser, evaluation); saved as ``meta["config"]``."""
    lang: str = "eng-fra"           # translation direction: eng-fra or fra-eng
    filter: str = "tutorial"        # tutorial: the tutorial's short pairs (~10.5k); none: all 135k
    min_count: int = 1
    split_seed: int = 0
    # model
    emb: int = 128
    hidden: int = 256
    layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = True
    score: str = "general"
    input_feed: bool = True
    dropout: float = 0.2
    ss: str = "none"
    ss_k: float | None = None     # None: the schedule's own k (linear 1, exponential 0.999, inv-sigmoid 1000)
    ss_c: float = 1e-4
    ss_min: float = 0.0
    bf16: bool = False
    unroll: int = 1
    # training
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    schedule: str = "cosine"
    warmup: int = 100
    clip_norm: float = 5.0
    seed: int = 0
    eval_every: int = 500
    ckpt_every: int = 500
    eval_sentences: int = 500
    beam: int = decode.BEAM
    alpha: float = decode.ALPHA

    def __post_init__(self):
        if self.lang not in ("eng-fra", "fra-eng"):
            raise ValueError(f"lang {self.lang!r}: use eng-fra or fra-eng")
        if self.filter not in eng_fra.FILTERS:
            raise ValueError(f"filter {self.filter!r}: choose one of {eng_fra.FILTERS}")
        for name in ("min_count", "emb", "hidden", "layers", "unroll", "steps", "batch_size",
                     "eval_sentences", "beam"):
            v = getattr(self, name)
            if v < 1:
                raise ValueError(f"{name} = {v}: give a value of at least 1")
        for name in ("warmup", "clip_norm", "alpha", "ss_c", "ss_min", "eval_every", "ckpt_every"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} = {getattr(self, name)}: must be >= 0")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout = {self.dropout}: a probability in [0, 1)")

    @classmethod
    def from_meta(cls, d, **override):
        """The run config stored in a checkpoint's meta (unknown keys of older runs ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in names}, **override})


PRESETS = {
    # a few minutes on a 2-core CPU, tutorial filter
    "small": {},
    # GPU: ~8 min on an H100 per run (four can share one GPU); full data fits the shipped-size budget
    # (the exported bf16 params of eng-fra on all pairs are ~20 MiB)
    "large": dict(emb=256, hidden=384, layers=2, min_count=3, batch_size=256, steps=8000, lr=1.5e-3,
                  warmup=300, eval_every=2000, ckpt_every=1000, dropout=0.3),
}


def model_config(cfg: Config, src_vocab, tgt_vocab) -> nmt.NMTConfig:
    return nmt.NMTConfig(src_vocab=src_vocab, tgt_vocab=tgt_vocab, emb=cfg.emb, hidden=cfg.hidden,
                         layers=cfg.layers, cell=cfg.cell, bidirectional=cfg.bidirectional,
                         score=cfg.score, input_feed=cfg.input_feed, dropout=cfg.dropout, ss=cfg.ss,
                         ss_k=cfg.ss_k, ss_c=cfg.ss_c, ss_min=cfg.ss_min,
                         compute_dtype="bfloat16" if cfg.bf16 else "float32", unroll=cfg.unroll)


def train_config(cfg: Config) -> TrainConfig:
    return TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule=cfg.schedule, warmup=cfg.warmup,
                       min_lr=cfg.lr * 0.05, clip_norm=cfg.clip_norm, seed=cfg.seed,
                       eval_every=cfg.eval_every, ckpt_every=cfg.ckpt_every, log_every=50)


@dataclasses.dataclass
class Data:
    """The oriented token pairs, the fixed split and, per split, encoded pairs, sources and references."""
    tok: list
    split: dict
    src_v: Vocab
    tgt_v: Vocab
    enc: dict
    srcs: dict
    refs: dict
    bounds: list
    report: eng_fra.LoadReport

    def summary(self, cfg: Config):
        s = self.split
        return (f"data: {self.report}; {len(self.tok)} pairs after filter {cfg.filter!r}; split "
                f"train/valid/test = {len(s['train'])}/{len(s['valid'])}/{len(s['test'])}; vocab src "
                f"{len(self.src_v)}, tgt {len(self.tgt_v)} (min count {cfg.min_count})")


def prepare(cfg: Config, data_dir=None, path=None) -> Data:
    """Load and filter the pairs, orient them by ``cfg.lang``, split 90/5/5 with ``cfg.split_seed`` and
    build both vocabularies from the training split."""
    pairs, report = eng_fra.load_pairs(data_dir, path, cfg.filter)
    tok = eng_fra.orient(pairs, cfg.lang)
    sp = eng_fra.split(len(tok), cfg.split_seed, SPLIT)
    train = [tok[i] for i in sp["train"]]
    src_v = Vocab.build([s for s, _ in train], cfg.min_count)
    tgt_v = Vocab.build([t for _, t in train], cfg.min_count)
    enc = {k: eng_fra.encode_pairs([tok[i] for i in v], src_v, tgt_v) for k, v in sp.items()}
    refs = {k: [" ".join(tok[i][1]) for i in v] for k, v in sp.items()}
    srcs = {k: [" ".join(tok[i][0]) for i in v] for k, v in sp.items()}
    bounds = eng_fra.bucket_bounds(max(max(len(s), len(t)) + 1 for s, t in tok))
    return Data(tok, sp, src_v, tgt_v, enc, srcs, refs, bounds, report)


def make_meta(cfg: Config, mcfg: nmt.NMTConfig, data: Data) -> dict:
    """Everything a checkpoint needs to translate (and to re-create its test split)."""
    return {"lang": cfg.lang, "config": dataclasses.asdict(cfg), "model": mcfg.to_json(),
            "src_vocab": data.src_v.to_json(), "tgt_vocab": data.tgt_v.to_json(),
            "split": {"seed": cfg.split_seed, "fractions": list(SPLIT), "filter": cfg.filter,
                      "n_pairs": len(data.tok), "test_indices": data.split["test"].tolist()},
            "data_report": {"lines": data.report.lines, "bad": data.report.bad}}


def make_eval_fn(cfg: Config, mcfg: nmt.NMTConfig, data: Data, bounds, n_dev=1):
    """``eval_fn(params, step)`` for ``fit``: validation loss/accuracy, greedy BLEU on the first
    ``cfg.eval_sentences`` validation pairs, and the training tokens/s since the last call (count them
    with the returned ``count(batch)``)."""
    eval_step = make_eval_step(lambda p, b, k, s: nmt.loss_fn(p, mcfg, b, None))
    val_enc = data.enc["valid"][:cfg.eval_sentences]
    val_refs = data.refs["valid"][:cfg.eval_sentences]
    bs = max(n_dev, min(cfg.batch_size, 128) // n_dev * n_dev)
    tokens = {"n": 0, "t": time.perf_counter()}

    def count(batch):
        tokens["n"] += int(batch["tgt_mask"].sum())
        return batch

    def eval_fn(params, step):
        tok_s = tokens["n"] / (time.perf_counter() - tokens["t"])
        val = evaluate(eval_step, params, (b for _, b in eng_fra.eval_batches(val_enc, bs, bounds)),
                       jax.random.PRNGKey(0), step=step)
        hyp = decode.translate_ids(params, mcfg, [s for s, _ in val_enc], beam=1, batch_size=bs,
                                   bounds=bounds, max_len=bounds[-1])
        bleu = metrics.bleu([" ".join(data.tgt_v.decode(h)) for h in hyp], val_refs)
        tokens["n"], tokens["t"] = 0, time.perf_counter()
        return {"loss": val["loss"], "acc": val["acc"], "bleu": bleu, "train_tok_s": tok_s}
    return eval_fn, count


def bleu_on_test(params, mcfg: nmt.NMTConfig, data: Data, beam=decode.BEAM, alpha=decode.ALPHA,
              limit=None):
    """Decode the test split (the first ``limit`` pairs if given) with beam search and greedily.
    Returns ``(results dict, {"beam": hyp ids, "greedy": hyp ids})``; results hold ``bleu_beam``,
    ``bleu_greedy``, ``test_sentences`` and ``seconds``."""
    t0 = time.perf_counter()
    test = data.enc["test"][:limit]
    refs = data.refs["test"][:len(test)]
    kw = dict(batch_size=128, bounds=data.bounds, max_len=data.bounds[-1])
    srcs = [s for s, _ in test]
    ids = {"beam": decode.translate_ids(params, mcfg, srcs, beam=beam, alpha=alpha, **kw),
           "greedy": decode.translate_ids(params, mcfg, srcs, beam=1, **kw)}
    score = {k: metrics.bleu([" ".join(data.tgt_v.decode(h)) for h in v], refs) for k, v in ids.items()}
    res = {"test_sentences": len(test), "bleu_beam": score["beam"], "beam": beam,
           "bleu_greedy": score["greedy"], "seconds": time.perf_counter() - t0}
    return res, ids


def examples_from_test(data: Data, ids, n=8, seed=0):
    """``n`` fixed random test indices with their source, reference and beam output strings."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
    return [(int(i), data.srcs["test"][i], data.refs["test"][i], " ".join(data.tgt_v.decode(ids[i])))
            for i in picks]
