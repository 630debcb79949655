"""Training and using the chatbot (:mod:`jaxseq.models.seq2seq.chatbot`): the run config, the dialogue data
(tiny-Shakespeare line -> reply pairs, or the Cornell Movie-Dialogs corpus when it is present), the
validation function, the test report and :class:`Chatbot`, the object :func:`load` returns::

    from jaxseq.models.seq2seq import chatbot_train
    bot = chatbot_train.load()                 # the shipped ckpt/chatbot/shakespeare
    bot.reply(["how now my lord ?"])           # -> ['...']
"""
from __future__ import annotations

import dataclasses
import math
import time
import warnings
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq import metrics, search
from jaxseq.data import batching, cornell, dialogue, eng_fra
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID, Vocab, tokenize
from jaxseq.data.files import require_kind
from jaxseq.errors import DataError
from jaxseq.models.seq2seq import chatbot as model
from jaxseq.paths import as_path
from jaxseq.training import checkpoint
from jaxseq.training.loop import TrainConfig, fit

SPLIT = (0.9, 0.05, 0.05)
CORPORA = ("shakespeare", "cornell")
MAX_INPUT_WORDS = 30            # longer inputs are cut to this many tokens (with a warning)
SHIPPED = Path(__file__).resolve().parents[3] / "ckpt" / "chatbot"
FAMILY = "chatbot"


@dataclasses.dataclass
class Config:
    """One chatbot training run; saved as ``meta["config"]``."""
    corpus: str = "shakespeare"     # shakespeare: tiny-Shakespeare turns; cornell: the movie corpus
    max_words: int = dialogue.MAX_WORDS
    min_count: int = dialogue.MIN_COUNT
    split_seed: int = 0
    hidden: int = 160
    layers: int = 2
    score: str = "dot"
    dropout: float = 0.1
    tf_ratio: float = 1.0           # teacher-forcing ratio (the tutorial's default 1.0)
    steps: int = 4000               # the tutorial's n_iteration
    batch_size: int = 64
    lr: float = 1e-3                # the tutorial: Adam 1e-4 (decoder 5e-4); ours: one Adam rate
    clip_norm: float = 50.0         # the tutorial's clip
    seed: int = 0
    eval_every: int = 100
    ckpt_every: int = 100

    def __post_init__(self):
        if self.corpus not in CORPORA:
            raise ValueError(f"corpus = {self.corpus!r}: choose one of {CORPORA}")
        for name in ("max_words", "min_count", "hidden", "layers", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: give a value of at least 1")
        if self.max_words < 2:
            raise ValueError(f"max_words = {self.max_words}: give at least 2")
        if not 0 <= self.tf_ratio <= 1:
            raise ValueError(f"tf_ratio = {self.tf_ratio}: a probability in [0, 1]")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        for name in ("clip_norm", "eval_every", "ckpt_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} = {getattr(self, name)}: must be >= 0")
        model.ChatbotConfig(vocab=1, hidden=self.hidden, layers=self.layers, score=self.score,
                            dropout=self.dropout)   # its checks, with the field names

    @classmethod
    def from_meta(cls, d):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def model_config(cfg: Config, vocab_size) -> model.ChatbotConfig:
    return model.ChatbotConfig(vocab=vocab_size, hidden=cfg.hidden, layers=cfg.layers, score=cfg.score,
                               dropout=cfg.dropout)


def train_config(cfg: Config) -> TrainConfig:
    return TrainConfig(steps=cfg.steps, lr=cfg.lr, clip_norm=cfg.clip_norm, seed=cfg.seed,
                       eval_every=cfg.eval_every, ckpt_every=cfg.ckpt_every, log_every=50)


# -------------------------------------------------------------------------------------------- data
@dataclasses.dataclass
class Data:
    pairs: list             # normalised (line, reply) strings after filtering and trimming
    split: dict             # {"train", "valid", "test"}: index arrays into pairs
    vocab: Vocab
    enc: dict               # per split: [(src ids + <eos>, reply ids + <eos>)]
    report: object

    @property
    def length(self):
        """The static padded length of sources and replies (tokens + <eos>)."""
        return max(max(len(s), len(t)) for v in self.enc.values() for s, t in v)

    def summary(self):
        s = self.split
        return (f"data: {self.report}; split train/valid/test = {len(s['train'])}/{len(s['valid'])}/"
                f"{len(s['test'])}; vocabulary {len(self.vocab)} (with 4 specials)")


def prepare(cfg: Config, data_dir=None) -> Data:
    """Pairs of ``cfg.corpus`` -> filter, trim, fixed seeded 90/5/5 split, encoded pairs."""
    if cfg.corpus == "cornell":
        pairs, vocab, report = cornell.load_pairs(data_dir, cfg.max_words, cfg.min_count)
    else:
        pairs, vocab, report = dialogue.load_shakespeare(data_dir, cfg.max_words, cfg.min_count)
    if len(pairs) < 20:
        raise DataError(f"only {len(pairs)} dialogue pairs after filtering ({report}); too few to split")
    sp = eng_fra.split(len(pairs), cfg.split_seed, SPLIT)
    enc = {k: [(vocab.encode(pairs[i][0].split()), vocab.encode(pairs[i][1].split())) for i in v]
           for k, v in sp.items()}
    return Data(pairs, sp, vocab, enc, report)


def batch_fn(data: Data, cfg: Config):
    """``batch(step)``: seeded epochs of the training pairs, padded to one static length."""
    train, L = data.enc["train"], data.length
    if cfg.batch_size > len(train):
        raise ValueError(f"batch_size = {cfg.batch_size}: larger than the {len(train)} training pairs")

    def f(step):
        idx = batching.batch_indices(step, len(train), cfg.batch_size, seed=cfg.seed)
        return eng_fra.make_batch([train[i] for i in idx], L, L)
    return f


def padded(enc_pairs, batch_size, length):
    """All ``enc_pairs`` once, as full batches (the last one filled with repeats; ``keep`` rows real)."""
    for j in range(0, len(enc_pairs), batch_size):
        rows = enc_pairs[j:j + batch_size]
        keep = len(rows)
        rows = rows + [rows[0]] * (batch_size - keep)
        yield keep, eng_fra.make_batch(rows, length, length)


def nll_on(params, mcfg, enc_pairs, length, batch_size=64):
    """Masked NLL per real token over ``enc_pairs`` (teacher forced, no dropout)."""
    tot, n = 0.0, 0.0
    for keep, b in padded(enc_pairs, batch_size, length):
        b = dict(b, tgt_mask=b["tgt_mask"] * (np.arange(batch_size) < keep)[:, None])
        s, c = _sums(params, mcfg, b)
        tot, n = tot + float(s), n + float(c)
    return tot / max(n, 1.0)


@partial(jax.jit, static_argnames=("mcfg",))
def _sums(params, mcfg, b):
    m = b["tgt_mask"].astype(jnp.float32)
    return model.masked_nll(model.forward(params, mcfg, b), b["tgt_out"], m) * m.sum(), m.sum()


def replies(params, mcfg, sources, length, beam=1, batch_size=64, max_len=None):
    """Decoded replies (token id lists without <eos>) for source id lists (each ending with <eos>),
    padded to ``length``; replies of at most ``max_len`` tokens (default ``length``)."""
    out = []
    for j in range(0, len(sources), batch_size):
        chunk = sources[j:j + batch_size]
        src = np.full((batch_size, length), PAD_ID, np.int32)
        for r, s in enumerate(chunk):
            src[r, :len(s)] = s
        src[len(chunk):] = src[0]
        mask = (src != PAD_ID).astype(np.float32)
        toks, _ = model.decode(params, mcfg, src, mask, max_len=max_len or length,
                               beam=beam)
        toks = np.asarray(toks)
        out += [search.strip(toks[r], EOS_ID, PAD_ID) for r in range(len(chunk))]
    return out


def make_eval_fn(mcfg, data: Data, n=256):
    """``eval_fn(params, step)``: validation NLL / perplexity and the share of distinct greedy replies."""
    val = data.enc["valid"][:n]

    def f(params, step):
        nll = nll_on(params, mcfg, val, data.length)
        out = replies(params, mcfg, [s for s, _ in val], data.length)
        distinct = len({tuple(o) for o in out}) / max(len(out), 1)
        return {"nll": nll, "ppl": math.exp(min(nll, 50.0)), "distinct_replies": distinct}
    return f


def test_report(params, mcfg, data: Data, n_examples=10, seed=0):
    """Test NLL, perplexity, greedy-reply BLEU against the real reply (a weak signal for dialogue: many
    replies fit a line) and a few examples."""
    t0 = time.perf_counter()
    test = data.enc["test"]
    nll = nll_on(params, mcfg, test, data.length)
    out = replies(params, mcfg, [s for s, _ in test], data.length)
    hyps = [" ".join(data.vocab.decode(o)) for o in out]
    refs = [data.pairs[i][1] for i in data.split["test"]]
    srcs = [data.pairs[i][0] for i in data.split["test"]]
    picks = np.random.default_rng(seed).choice(len(test), min(n_examples, len(test)), replace=False)
    return {"test_pairs": len(test), "test_nll": nll, "test_ppl": math.exp(min(nll, 50.0)),
            "bleu_greedy": metrics.bleu(hyps, refs),
            "distinct_replies": len(set(hyps)) / max(len(hyps), 1),
            "examples": [{"line": srcs[i], "reply": refs[i], "bot": hyps[i]} for i in picks],
            "seconds": time.perf_counter() - t0}


def fit_run(out_dir, loss, params, batch_fn, tcfg: TrainConfig, *, eval_fn, meta, best_metric,
            time_budget_s=None):
    """:func:`jaxseq.training.loop.fit` with checkpoints in ``out_dir`` (resumed from there; the last two
    steps and the best by ``best_metric``, lower is better, are kept) and its ``history.json``.
    -> ``(params, history, last saved step)``. Shared by the chatbot and the Keras char scripts."""
    ck = checkpoint.Checkpointer(out_dir, keep=2, best_metric=best_metric, best_mode="min")
    try:
        params, hist = fit(loss, params, batch_fn, tcfg, eval_fn=eval_fn, ckpt=ck, meta=meta,
                           time_budget_s=time_budget_s)
        done = ck.latest_step()
    finally:
        ck.close()
    checkpoint.write_history(out_dir, hist)
    return params, hist, done


def make_meta(cfg: Config, mcfg, data: Data) -> dict:
    return {"family": FAMILY, "config": dataclasses.asdict(cfg), "model": mcfg.to_json(),
            "vocab": data.vocab.to_json(), "length": data.length,
            "data_report": dataclasses.asdict(data.report)}


# -------------------------------------------------------------------------------------- the facade
@dataclasses.dataclass
class Chatbot:
    """A trained chatbot. ``reply(lines)`` -> list of reply strings (greedy, one jitted call)."""
    params: dict
    cfg: model.ChatbotConfig
    meta: dict

    def __post_init__(self):
        self.vocab = Vocab.from_json(self.meta["vocab"])
        self.length = int(self.meta["length"])

    def check(self, text) -> list:
        """The known tokens of ``text``. Refused (``ValueError``): empty text, text with no word the model
        knows. Warned (``warnings.warn``): unknown words (dropped, as the tutorial cannot encode them),
        input over :data:`MAX_INPUT_WORDS` tokens (cut to the first ones)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"empty input {text!r}: say something")
        toks = tokenize(text)
        if not toks:
            raise ValueError(f"nothing to answer in {text!r}: no letters or .!? left after normalisation")
        if len(toks) > MAX_INPUT_WORDS:
            warnings.warn(f"input of {len(toks)} tokens cut to its first {MAX_INPUT_WORDS} (the model was "
                          f"trained on lines under {self.meta['config']['max_words']} tokens)", stacklevel=3)
            toks = toks[:MAX_INPUT_WORDS]
        unknown = [t for t in toks if t not in self.vocab.stoi]
        known = [t for t in toks if t in self.vocab.stoi]
        words = [t for t in known if t not in ".!?"]
        if not words:
            raise ValueError(f"no word of {text[:60]!r} is known to the model (its vocabulary has "
                             f"{len(self.vocab) - 4} words); try plainer words")
        if unknown:
            warnings.warn(f"unknown words left out: {', '.join(dict.fromkeys(unknown))}", stacklevel=3)
        return known

    def reply(self, texts, beam=1, return_attention=False):
        """Replies to ``texts`` (a list of strings); see :meth:`check` for what is refused or warned. With
        ``return_attention``: ``(line tokens, reply tokens, attention)`` triples (see :meth:`attention`)."""
        if isinstance(texts, str):
            raise TypeError("reply takes a list of strings; wrap one line as [text]")
        srcs = [self.vocab.encode(self.check(t)) for t in texts]
        L = max(self.length, max((len(s) for s in srcs), default=1))
        L = self.length if L <= self.length else MAX_INPUT_WORDS + 1   # two compiled shapes at most
        out = replies(self.params, self.cfg, srcs, L, beam=beam, batch_size=max(1, len(srcs)),
                      max_len=self.length)
        if return_attention:
            return [(self.vocab.decode(s), self.vocab.decode(o), self.attention(s, o))
                    for s, o in zip(srcs, out)]
        return [" ".join(self.vocab.decode(o)) for o in out]

    def attention(self, src_ids, out_ids):
        """Attention [len(out_ids) + 1, len(src_ids)] of the model reading ``out_ids`` + <eos> as the reply
        to ``src_ids`` (ending with <eos>): the weights of greedy decoding, for a greedy reply."""
        src = np.asarray([src_ids], np.int32)
        tgt_in = np.asarray([[SOS_ID] + list(out_ids)], np.int32)
        batch = {"src": src, "src_mask": np.ones_like(src, np.float32), "tgt_in": tgt_in}
        return np.asarray(model.attention_for(self.params, self.cfg, batch))[0]


def restore(directory):
    """``(params float32, ChatbotConfig, meta)`` of a chatbot run (its best validation step) or export."""
    params, meta = checkpoint.load_for_sampling(directory, dtype="float32")
    require_kind(directory, meta, "chatbot")
    params = jax.tree_util.tree_map(jnp.asarray, params)
    return params, model.ChatbotConfig.from_json(meta["model"]), meta


def find_checkpoint(name_or_path, shipped: Path, what: str) -> Path:
    """A checkpoint directory, or the name of a model shipped in ``shipped`` (``ckpt/<family>/<name>`` of
    this repository, found from any working directory)."""
    p = as_path(name_or_path)
    if p.is_dir():
        return p
    if (shipped / str(name_or_path)).is_dir():
        return shipped / str(name_or_path)
    have = sorted(d.name for d in shipped.iterdir()) if shipped.is_dir() else []
    raise FileNotFoundError(f"no {what} checkpoint {name_or_path!r}: not a directory, and not a shipped "
                            f"model (shipped: {', '.join(have) or 'none'})")


def resolve(name_or_path="shakespeare") -> Path:
    return find_checkpoint(name_or_path, SHIPPED, "chatbot")


def load(name_or_path="shakespeare") -> Chatbot:
    """A :class:`Chatbot` from a shipped name or a checkpoint directory (best validation step, else the
    latest)."""
    return Chatbot(*restore(resolve(name_or_path)))
