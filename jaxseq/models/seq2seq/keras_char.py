"""The Keras character-level seq2seq ("lstm_seq2seq", Chollet 2017): English -> French, one character
at a time.

As in the notebook: the first ``num_samples`` (10,000) lines of the tab-separated pair file, raw text (case
and accents kept), one-hot characters (separate source and target sets), an LSTM encoder of 256 units whose
final ``(h, c)`` starts an LSTM decoder of 256 units, a softmax over the target characters, ``"\\t"`` as the
start and ``"\\n"`` as the end of every target, RMSprop. Ours differs where the notebook is weak: padding is
masked (the notebook pads with spaces and trains on them), the held-out pairs are a fixed seeded split,
and decoding is one jitted greedy search for a whole batch (:func:`greedy`, through :mod:`jaxseq.search`)
instead of a ``model.predict`` call per character.

Ids: a :class:`jaxseq.data.charset.Charset` per side; id 0 is its unknown symbol and doubles as padding
(its one-hot is the zero vector, so padding and unknown characters add nothing to the input).
Shapes: src [B, S] int32, src_mask [B, S]; tgt_in / tgt_out / tgt_mask [B, T].
"""
from __future__ import annotations

import dataclasses
import time
import warnings
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq import metrics, search
from jaxseq.data import batching, eng_fra
from jaxseq.data.charset import Charset
from jaxseq.data.files import require_kind
from jaxseq.errors import DataError
from jaxseq.models.seq2seq.common import token_loss
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import LSTM
from jaxseq.nn.layers import dense, dense_init
from jaxseq.training import checkpoint
from jaxseq.training.loop import TrainConfig

START, END = "\t", "\n"
PAD = 0
SPLIT = (0.9, 0.05, 0.05)
MAX_CHARS = 80          # longer inputs are cut to this many characters (with a warning)
SHIPPED = Path(__file__).resolve().parents[3] / "ckpt" / "keras_char"
FAMILY = "keras_char"


@dataclasses.dataclass(frozen=True)
class KerasCharConfig:
    src_chars: int          # charset sizes, unknown/pad symbol included
    tgt_chars: int
    hidden: int = 256       # the notebook's latent_dim
    unroll: int = 1         # lax.scan unroll of both LSTMs (a GPU speed knob; same numbers)

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d):
        return cls(**d)


def init(key, cfg: KerasCharConfig):
    ke, kd, ko = jax.random.split(key, 3)
    return {"enc": LSTM.init(ke, cfg.src_chars - 1, cfg.hidden, forget_bias=1.0),
            "dec": LSTM.init(kd, cfg.tgt_chars - 1, cfg.hidden, forget_bias=1.0),
            "out": dense_init(ko, cfg.hidden, cfg.tgt_chars)}


def one_hot(ids, n_chars):
    """ids [...] -> one-hot [..., n_chars - 1]; id 0 (unknown/pad) is the zero vector."""
    return jax.nn.one_hot(ids - 1, n_chars - 1)


def encode(params, cfg: KerasCharConfig, src, src_mask):
    """-> the encoder's final ``(h, c)`` after each source's last real character (the decoder's start)."""
    _, final = rnn.run(LSTM, params["enc"], one_hot(src, cfg.src_chars), mask=src_mask, unroll=cfg.unroll)
    return final


def forward(params, cfg: KerasCharConfig, batch):
    """Teacher-forced logits [B, T, V] (the notebook's training model)."""
    carry = encode(params, cfg, batch["src"], batch["src_mask"])
    ys, _ = rnn.run(LSTM, params["dec"], one_hot(batch["tgt_in"], cfg.tgt_chars), mask=batch["tgt_mask"],
                    carry=carry, unroll=cfg.unroll)
    return dense(params["out"], ys).astype(jnp.float32)


def loss_fn(params, cfg: KerasCharConfig, batch):
    """Categorical cross-entropy per real target character (padding masked). -> (loss, metrics)."""
    return token_loss(forward(params, cfg, batch), batch["tgt_out"], batch["tgt_mask"])


def decoder_step(params, cfg: KerasCharConfig, carry, token):
    """``(carry, token [B]) -> (carry, logits [B, V])``: the notebook's decoder model, for the search."""
    carry, h = LSTM.step(params["dec"], carry, one_hot(token, cfg.tgt_chars))
    return carry, dense(params["out"], h).astype(jnp.float32)


@partial(jax.jit, static_argnames=("cfg", "max_len", "sos_id", "eos_id"))
def greedy(params, cfg: KerasCharConfig, src, src_mask, max_len, sos_id, eos_id):
    """The whole batch decoded in one call. -> (tokens [B, max_len] with ``eos_id`` then 0, log-prob [B])."""
    carry = encode(params, cfg, src, src_mask)
    return search.greedy(partial(decoder_step, params, cfg), carry, src.shape[0], max_len, sos_id, eos_id,
                         PAD)


# -------------------------------------------------------------------------------------------- data
def raw_pairs(data_dir=None, path=None, num_samples=10000):
    """The first ``num_samples`` ``(English, French)`` pairs of ``eng-fra.txt`` (in ``data.zip``), raw text
    as the notebook reads it (``line.split("\\t")``; lines without a tab are skipped)."""
    src = eng_fra.find_data(data_dir, path)
    out = []
    for line in eng_fra.read_text(src).split("\n"):
        parts = line.rstrip("\r").split("\t")
        if len(parts) >= 2 and parts[0].strip() and parts[1].strip():
            out.append((parts[0], parts[1]))
            if len(out) == num_samples:
                break
    if not out:
        raise DataError(f"{src}: no English<TAB>French lines")
    return out


@dataclasses.dataclass
class Data:
    pairs: list
    split: dict
    src_cs: Charset
    tgt_cs: Charset
    src_len: int        # static padded lengths (the notebook's max_encoder/decoder_seq_length)
    tgt_len: int

    def ids(self, part):
        return [(self.src_cs.encode(e), self.tgt_cs.encode(START + f + END))
                for e, f in (self.pairs[i] for i in self.split[part])]

    def summary(self):
        s = self.split
        return (f"data: {len(self.pairs)} pairs; train/valid/test {len(s['train'])}/{len(s['valid'])}/"
                f"{len(s['test'])}; {self.src_cs.size - 1} source and {self.tgt_cs.size - 1} target "
                f"characters; max lengths {self.src_len - 1} / {self.tgt_len - 1}")


def prepare(num_samples=10000, split_seed=0, data_dir=None, path=None) -> Data:
    """Pairs, a fixed seeded 90/5/5 split and the charsets (from every pair, as the notebook builds them;
    the test split's characters are thus known, its sentences are not)."""
    pairs = raw_pairs(data_dir, path, num_samples)
    if len(pairs) < 20:
        raise DataError(f"only {len(pairs)} pairs; give at least 20 samples")
    sp = eng_fra.split(len(pairs), split_seed, SPLIT)
    src_cs = Charset.build([e for e, _ in pairs])
    tgt_cs = Charset.build([START + END] + [f for _, f in pairs])
    return Data(pairs, sp, src_cs, tgt_cs, max(len(e) for e, _ in pairs) + 1,
                max(len(f) for _, f in pairs) + 2)


def make_batch(id_pairs, src_len, tgt_len):
    """Padded arrays: src [B, S]; tgt_in = "\\t" + text, tgt_out = text + "\\n" [B, T]; masks."""
    B = len(id_pairs)
    src = np.zeros((B, src_len), np.int32)
    tgt = np.zeros((B, tgt_len + 1), np.int32)
    for i, (s, t) in enumerate(id_pairs):
        src[i, :len(s)] = s[:src_len]
        tgt[i, :len(t)] = t[:tgt_len + 1]
    return {"src": src, "src_mask": (src != PAD).astype(np.float32), "tgt_in": tgt[:, :-1],
            "tgt_out": tgt[:, 1:], "tgt_mask": (tgt[:, 1:] != PAD).astype(np.float32)}


# ---------------------------------------------------------------------------------------- training
@dataclasses.dataclass
class Config:
    """One run (the notebook's settings by default); saved as ``meta["config"]``."""
    num_samples: int = 10000        # the first N pairs of eng-fra.txt
    split_seed: int = 0
    hidden: int = 256
    batch_size: int = 64
    steps: int = 14000              # ~100 epochs of the 9,000 training pairs (the notebook: 100 epochs)
    lr: float = 1e-3                # RMSprop as Keras has it (rho 0.9, eps 1e-7), Keras' default rate
    clip_norm: float = 5.0          # not in the notebook; a guard against a rare exploding step
    seed: int = 0
    eval_every: int = 1000
    ckpt_every: int = 1000
    eval_sentences: int = 200       # validation sentences decoded for the CER at each evaluation
    unroll: int = 1                 # lax.scan unroll (GPU speed knob)

    def __post_init__(self):
        for name in ("num_samples", "hidden", "batch_size", "steps", "eval_sentences", "unroll"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: give a value of at least 1")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        for name in ("clip_norm", "eval_every", "ckpt_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} = {getattr(self, name)}: must be >= 0")

    @classmethod
    def from_meta(cls, d):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def train_config(cfg: Config) -> TrainConfig:
    return TrainConfig(steps=cfg.steps, lr=cfg.lr, optimizer="rmsprop_keras", clip_norm=cfg.clip_norm,
                       seed=cfg.seed, eval_every=cfg.eval_every, ckpt_every=cfg.ckpt_every, log_every=100)


def model_config(cfg: Config, data: Data) -> KerasCharConfig:
    return KerasCharConfig(data.src_cs.size, data.tgt_cs.size, cfg.hidden, cfg.unroll)


def batch_fn(data: Data, cfg: Config):
    train = data.ids("train")
    if cfg.batch_size > len(train):
        raise ValueError(f"batch_size = {cfg.batch_size}: larger than the {len(train)} training pairs")

    def f(step):
        idx = batching.batch_indices(step, len(train), cfg.batch_size, seed=cfg.seed)
        return make_batch([train[i] for i in idx], data.src_len, data.tgt_len)
    return f


def make_loss(cfg: KerasCharConfig):
    return lambda params, batch, key, step: loss_fn(params, cfg, batch)


def translate_ids(params, cfg: KerasCharConfig, sources, tgt_cs: Charset, src_len, max_len,
                  batch_size=256):
    """Greedy outputs (strings) for source id arrays, ``batch_size`` at a time (one compiled shape)."""
    out = []
    sos, eos = tgt_cs.index[START], tgt_cs.index[END]
    for j in range(0, len(sources), batch_size):
        chunk = list(sources[j:j + batch_size])
        n = len(chunk)
        b = make_batch([(s, [sos]) for s in chunk + [chunk[0]] * (batch_size - n)], src_len, 1)
        toks = np.asarray(greedy(params, cfg, b["src"], b["src_mask"], max_len, sos, eos)[0])
        out += [tgt_cs.decode(search.strip(toks[r], eos, PAD)) for r in range(n)]
    return out


def evaluate_split(params, cfg: KerasCharConfig, data: Data, part, limit=None):
    """Teacher-forced NLL per character, greedy CER, BLEU and chrF on ``part`` (its first ``limit``
    pairs)."""
    ids = data.ids(part)[:limit]
    refs = [data.pairs[i][1] for i in data.split[part]][:len(ids)]
    t0 = time.perf_counter()
    hyps = translate_ids(params, cfg, [s for s, _ in ids], data.tgt_cs, data.src_len, data.tgt_len)
    secs = time.perf_counter() - t0
    tot = n = 0.0
    for j in range(0, len(ids), 256):
        b = make_batch(ids[j:j + 256], data.src_len, data.tgt_len)
        m = b["tgt_mask"].sum()
        tot, n = tot + float(_nll(params, cfg, b)) * float(m), n + float(m)
    return {"nll": tot / max(n, 1.0), "cer": metrics.char_error_rate(hyps, refs),
            "bleu": metrics.bleu(hyps, refs), "chrf": metrics.chrf(hyps, refs), "sentences": len(ids),
            "decode_seconds": secs}, hyps


@partial(jax.jit, static_argnames=("cfg",))
def _nll(params, cfg, batch):
    return loss_fn(params, cfg, batch)[0]


def make_eval_fn(mcfg: KerasCharConfig, data: Data, cfg: Config):
    def f(params, step):
        res, _ = evaluate_split(params, mcfg, data, "valid", cfg.eval_sentences)
        return {"nll": res["nll"], "cer": res["cer"], "bleu": res["bleu"]}
    return f


def make_meta(cfg: Config, mcfg: KerasCharConfig, data: Data) -> dict:
    return {"family": FAMILY, "config": dataclasses.asdict(cfg), "model": mcfg.to_json(),
            "src_charset": data.src_cs.to_json(), "tgt_charset": data.tgt_cs.to_json(),
            "src_len": data.src_len, "tgt_len": data.tgt_len}


# -------------------------------------------------------------------------------------- the facade
@dataclasses.dataclass
class CharTranslator:
    """A trained model: ``translate(["Go."])`` -> ``["Va !"]`` (greedy, the whole list in one call)."""
    params: dict
    cfg: KerasCharConfig
    meta: dict

    def __post_init__(self):
        self.src_cs = Charset.from_json(self.meta["src_charset"])
        self.tgt_cs = Charset.from_json(self.meta["tgt_charset"])
        self.src_len, self.tgt_len = int(self.meta["src_len"]), int(self.meta["tgt_len"])

    def check(self, text) -> str:
        """``text`` as the model will read it. Refused (``ValueError``): empty text, text with no
        character the model knows. Warned (``warnings.warn``): input over :data:`MAX_CHARS` characters
        (cut), unknown characters (read as nothing)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"empty input {text!r}: give an English sentence")
        text = text.strip()
        if len(text) > MAX_CHARS:
            warnings.warn(f"input of {len(text)} characters cut to its first {MAX_CHARS} (the model was "
                          f"trained on sentences of at most {self.src_len - 1})", stacklevel=3)
            text = text[:MAX_CHARS]
        known = [c for c in text if c in self.src_cs.index and not c.isspace()]
        if not known:
            raise ValueError(f"no character of {text[:40]!r} is known to the model (it knows "
                             f"{''.join(self.src_cs.chars[1:]).strip()!r})")
        return text

    def translate(self, texts):
        if isinstance(texts, str):
            raise TypeError("translate takes a list of strings; wrap one sentence as [text]")
        texts = [self.check(t) for t in texts]
        if not texts:
            return []
        L = self.src_len if max(len(t) for t in texts) < self.src_len else MAX_CHARS + 1
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            ids = [self.src_cs.encode(t) for t in texts]
        return translate_ids(self.params, self.cfg, ids, self.tgt_cs, L, self.tgt_len,
                             batch_size=max(1, len(ids)))


def restore(directory):
    """``(params float32, KerasCharConfig, meta)`` of a run (its best validation CER) or an export."""
    params, meta = checkpoint.load_for_sampling(directory, dtype="float32")
    require_kind(directory, meta, "Keras character seq2seq")
    return jax.tree_util.tree_map(jnp.asarray, params), KerasCharConfig.from_json(meta["model"]), meta


def resolve(name_or_path="eng-fra") -> Path:
    from jaxseq.models.seq2seq.chatbot_train import find_checkpoint
    return find_checkpoint(name_or_path, SHIPPED, "Keras char")


def load(name_or_path="eng-fra") -> CharTranslator:
    """A :class:`CharTranslator` from a shipped name (``ckpt/keras_char/<name>``) or a checkpoint dir."""
    return CharTranslator(*restore(resolve(name_or_path)))
