"""Training an NMT model on the eng-fra pairs: the run config (with the ``small``/``large`` presets),
data preparation (filter, fixed split, vocabularies, encoded pairs), the checkpoint meta, the validation
function for :func:`jaxseq.training.loop.fit` and the test-set BLEU report."""
from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from jaxseq import metrics
from jaxseq.data import eng_fra, subword
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
    text: str = "tutorial"          # tutorial: normalised words, split by pair (the seed's setup);
                                    # truecase: raw text, joint SentencePiece subwords, a split with no
                                    # source sentence shared with training (eng_fra.split_unshared)
    min_count: int = 1              # (tutorial text) words seen fewer times become <unk>
    vocab_size: int = subword.VOCAB_SIZE   # (truecase text) joint subword vocabulary size
    max_tokens: int = 64            # (truecase text) training pairs with a longer side are skipped
    pad_to: int = 0                 # (truecase text) pad every training batch to this many tokens: one
                                    # compiled train step (0: length buckets, one compilation each)
    split_seed: int = 0
    # model
    emb: int = 128
    hidden: int = 256
    layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = True
    score: str = "general"
    input_feed: bool = True
    tied: bool = False              # one embedding table for source, target and output (joint vocab)
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
        if self.text not in eng_fra.TEXTS:
            raise ValueError(f"text {self.text!r}: choose one of {eng_fra.TEXTS}")
        if self.tied and self.text != "truecase":
            raise ValueError("tied embeddings need the joint subword vocabulary: use text truecase")
        for name in ("min_count", "emb", "hidden", "layers", "unroll", "steps", "batch_size",
                     "eval_sentences", "beam", "max_tokens"):
            v = getattr(self, name)
            if v < 1:
                raise ValueError(f"{name} = {v}: give a value of at least 1")
        for name in ("warmup", "clip_norm", "alpha", "ss_c", "ss_min", "eval_every", "ckpt_every"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} = {getattr(self, name)}: must be >= 0")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        if self.pad_to and (self.text != "truecase" or self.pad_to < self.max_tokens):
            raise ValueError(f"pad_to = {self.pad_to}: needs truecase text and at least max_tokens "
                             f"({self.max_tokens}) tokens, so every training pair fits")
        if self.pad_to < 0:
            raise ValueError(f"pad_to = {self.pad_to}: give 0 (length buckets) or a length")
        if self.vocab_size < 300:   # byte fallback alone takes 256 + 4 ids
            raise ValueError(f"vocab_size = {self.vocab_size}: give at least 300")
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
    # the shipped true-case models: all pairs, raw text, an 8k joint subword vocabulary and tied
    # embeddings (3.8M params) keep the bf16 export near 6.5 MB (GPU, ~5 min). One padded training
    # shape (32 tokens; 0.2 % of the training pairs are longer and skipped): on a GPU shared by many
    # jobs each train-step compilation took ~90 s, so length buckets cost more than the padding.
    "truecase": dict(text="truecase", filter="none", tied=True, emb=192, hidden=256, layers=2,
                     batch_size=256, steps=7000, lr=2e-3, warmup=300, eval_every=2000, ckpt_every=1000,
                     dropout=0.2, max_tokens=32, pad_to=32),
}


def model_config(cfg: Config, src_vocab, tgt_vocab) -> nmt.NMTConfig:
    return nmt.NMTConfig(src_vocab=src_vocab, tgt_vocab=tgt_vocab, emb=cfg.emb, hidden=cfg.hidden,
                         layers=cfg.layers, cell=cfg.cell, bidirectional=cfg.bidirectional,
                         score=cfg.score, input_feed=cfg.input_feed, dropout=cfg.dropout, ss=cfg.ss,
                         ss_k=cfg.ss_k, ss_c=cfg.ss_c, ss_min=cfg.ss_min,
                         compute_dtype="bfloat16" if cfg.bf16 else "float32", unroll=cfg.unroll,
                         tied=cfg.tied)


def train_config(cfg: Config) -> TrainConfig:
    return TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule=cfg.schedule, warmup=cfg.warmup,
                       min_lr=cfg.lr * 0.05, clip_norm=cfg.clip_norm, seed=cfg.seed,
                       eval_every=cfg.eval_every, ckpt_every=cfg.ckpt_every, log_every=50)


@dataclasses.dataclass
class Data:
    """The oriented pairs (token lists, or raw strings for true-case text), the fixed split and, per
    split, encoded pairs, sources and references (strings: what BLEU compares). ``src_v``/``tgt_v`` are
    word :class:`Vocab` s or one joint :class:`jaxseq.data.subword.Subword`."""
    tok: list
    split: dict
    src_v: Vocab
    tgt_v: Vocab
    enc: dict
    srcs: dict
    refs: dict
    bounds: list
    report: eng_fra.LoadReport
    split_info: dict = dataclasses.field(default_factory=dict)

    def text(self, ids):
        """Output ids -> the string scored against the references."""
        return decode.to_text(self.tgt_v, ids)

    def summary(self, cfg: Config):
        s = self.split
        vocab = (f"vocab src {len(self.src_v)}, tgt {len(self.tgt_v)} (min count {cfg.min_count})"
                 if cfg.text == "tutorial" else f"joint subword vocab {len(self.tgt_v)}")
        extra = f" ({self.split_info})" if self.split_info else ""
        return (f"data: {self.report}; {len(self.tok)} pairs after filter {cfg.filter!r}; split "
                f"train/valid/test = {len(s['train'])}/{len(s['valid'])}/{len(s['test'])}{extra}; {vocab}")


def prepare(cfg: Config, data_dir=None, path=None, subword_model=None) -> Data:
    """Load and filter the pairs, orient them by ``cfg.lang``, split 90/5/5 with ``cfg.split_seed`` and
    build both vocabularies from the training split. True-case text: raw pairs, the unshared split of
    :func:`eng_fra.split_unshared` and a joint subword model (``subword_model``: its protobuf bytes or
    a :class:`Subword`; by default one is trained on both sides of the training split)."""
    if cfg.text == "truecase":
        return _prepare_truecase(cfg, data_dir, path, subword_model)
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


def _prepare_truecase(cfg: Config, data_dir, path, subword_model) -> Data:
    pairs, report = eng_fra.load_pairs(data_dir, path, cfg.filter, text="truecase")
    sp, info = eng_fra.split_unshared(pairs, cfg.split_seed, SPLIT)
    if subword_model is None:
        subword_model = subword.train([t for i in sp["train"] for t in pairs[i]], cfg.vocab_size)
    sw = subword_model if isinstance(subword_model, subword.Subword) else subword.Subword(subword_model)
    if len(sw) != cfg.vocab_size:
        raise ValueError(f"the subword model has {len(sw)} pieces but vocab_size is {cfg.vocab_size}")
    tok = eng_fra.orient_text(pairs, cfg.lang)
    ids_src = sw.encode_batch([s for s, _ in tok])
    ids_tgt = sw.encode_batch([t for _, t in tok])
    keep = np.array([max(len(ids_src[i]), len(ids_tgt[i])) <= cfg.max_tokens for i in sp["train"]], bool)
    info = dict(info, skipped_long_train=int((~keep).sum()))
    sp = dict(sp, train=sp["train"][keep])
    enc = {k: [(ids_src[i], ids_tgt[i]) for i in v] for k, v in sp.items()}
    refs = {k: [tok[i][1] for i in v] for k, v in sp.items()}
    srcs = {k: [tok[i][0] for i in v] for k, v in sp.items()}
    bounds = eng_fra.bucket_bounds(max(max(len(s), len(t)) for k in enc for s, t in enc[k]))
    return Data(tok, sp, sw, sw, enc, srcs, refs, bounds, report, info)


def make_meta(cfg: Config, mcfg: nmt.NMTConfig, data: Data) -> dict:
    """Everything a checkpoint needs to translate (and to re-create its test split)."""
    if cfg.text == "truecase":
        vocab = {"text": "truecase", "subword": data.tgt_v.to_json()}
    else:
        vocab = {"src_vocab": data.src_v.to_json(), "tgt_vocab": data.tgt_v.to_json()}
    return {"lang": cfg.lang, "config": dataclasses.asdict(cfg), "model": mcfg.to_json(), **vocab,
            "split": {"seed": cfg.split_seed, "fractions": list(SPLIT), "filter": cfg.filter,
                      "text": cfg.text, "n_pairs": len(data.tok), **data.split_info,
                      "test_indices": data.split["test"].tolist()},
            "data_report": {"lines": data.report.lines, "bad": data.report.bad}}


def make_eval_fn(cfg: Config, mcfg: nmt.NMTConfig, data: Data, bounds, n_dev=1):
    """``eval_fn(params, step)`` for ``fit``: validation loss/accuracy, greedy BLEU on the first
    ``cfg.eval_sentences`` validation pairs, and the training tokens/s since the last call (count them
    with the returned ``count(batch)``)."""
    return validation(lambda p, b, k, s: nmt.loss_fn(p, mcfg, b, None),
                      lambda p, srcs, **kw: decode.translate_ids(p, mcfg, srcs, **kw), data,
                      cfg.eval_sentences, max(n_dev, min(cfg.batch_size, 128) // n_dev * n_dev), bounds)


def validation(loss, translate_ids, data: Data, n_sentences, batch_size, bounds, keys=("loss", "acc")):
    """``(eval_fn(params, step), count(batch))`` for ``fit``, for any model of these pairs (NMT's and
    the :mod:`jaxseq.models.seq2seq` ones): the ``keys`` of ``loss(params, batch, key, step)`` on
    the first ``n_sentences`` validation pairs, their greedy BLEU (``translate_ids(params, sources,
    beam=1, batch_size=, bounds=)`` -> output id lists) and ``train_tok_s``, the training target
    tokens/s since the last call (``count`` each training batch)."""
    eval_step = make_eval_step(loss)
    val_enc = data.enc["valid"][:n_sentences]
    val_refs = data.refs["valid"][:n_sentences]
    tokens = {"n": 0, "t": time.perf_counter()}

    def count(batch):
        tokens["n"] += int(batch["tgt_mask"].sum())
        return batch

    def eval_fn(params, step):
        tok_s = tokens["n"] / (time.perf_counter() - tokens["t"])
        val = evaluate(eval_step, params, (b for _, b in eng_fra.eval_batches(val_enc, batch_size, bounds)),
                       jax.random.PRNGKey(0), step=step)
        hyp = translate_ids(params, [s for s, _ in val_enc], beam=1, batch_size=batch_size, bounds=bounds)
        bleu = metrics.bleu([data.text(h) for h in hyp], val_refs)
        tokens["n"], tokens["t"] = 0, time.perf_counter()
        return {**{k: val[k] for k in keys}, "bleu": bleu, "train_tok_s": tok_s}
    return eval_fn, count


def bleu_on_test(params, mcfg: nmt.NMTConfig, data: Data, beam=decode.BEAM, alpha=decode.ALPHA,
                 limit=None, batch_size=128):
    """Decode the test split (the first ``limit`` pairs if given) with beam search and greedily.
    Returns ``(results dict, {"beam": hyp ids, "greedy": hyp ids})``; results hold ``bleu_beam``,
    ``bleu_greedy``, ``chrf_beam``, ``chrf_greedy``, ``test_sentences``, ``seconds`` and the decoding
    speed of each search (``sent_per_s_beam``/``_greedy``, compilation included)."""
    def search(srcs, b):
        return decode.translate_ids(params, mcfg, srcs, beam=b, alpha=alpha, batch_size=batch_size,
                                    bounds=data.bounds)

    t0 = time.perf_counter()
    refs, ids, secs = decode_test(data, search, (("beam", beam), ("greedy", 1)), limit)
    res = {"test_sentences": len(refs), "beam": beam}
    for k, v in ids.items():
        hyps = [data.text(h) for h in v]
        res[f"bleu_{k}"] = metrics.bleu(hyps, refs)
        res[f"chrf_{k}"] = metrics.chrf(hyps, refs)
        res[f"sent_per_s_{k}"] = len(refs) / secs[k]
    res["seconds"] = time.perf_counter() - t0
    return res, ids


def decode_test(data: Data, decode_fn, searches, limit=None):
    """Decode the sources of the test split (its first ``limit`` pairs if given) once per ``(name,
    beam)`` of ``searches`` with ``decode_fn(sources, beam)``, timed (NMT's and the seq2seq models'
    test reports). -> (references, {name: outputs}, {name: seconds})."""
    test = data.enc["test"][:limit]
    srcs = [s for s, _ in test]
    out, secs = {}, {}
    for name, b in searches:
        t = time.perf_counter()
        out[name] = decode_fn(srcs, b)
        secs[name] = time.perf_counter() - t
    return data.refs["test"][:len(test)], out, secs


def examples_from_test(data: Data, ids, n=8, seed=0):
    """``n`` fixed random test indices with their source, reference and beam output strings."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
    return [(int(i), data.srcs["test"][i], data.refs["test"][i], data.text(ids[i])) for i in picks]
