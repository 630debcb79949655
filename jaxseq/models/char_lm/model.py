"""Character-level LSTM language model (embedding -> stacked LSTM -> softmax), trained with teacher forcing
or with scheduled sampling (Bengio et al. 2015), plus free-running sampling and a character n-gram model
used to score generated text.

Shapes: ``tokens: [B, T + 1]`` int32; the model reads ``tokens[:, :-1]`` and predicts ``tokens[:, 1:]``.
Losses are mean NLL in nats per predicted character (``bits = nats / ln 2``).
"""
from __future__ import annotations

import collections
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import LSTM
from jaxseq.nn.teacher_forcing import mix


@dataclasses.dataclass(frozen=True)
class CharRNNConfig:
    vocab: int
    embed: int = 32
    hidden: int = 256
    layers: int = 1


def init(key, cfg: CharRNNConfig):
    ke, kl, ko = jax.random.split(key, 3)
    return {"embed": 0.1 * jax.random.normal(ke, (cfg.vocab, cfg.embed), jnp.float32),
            "lstm": rnn.stacked_init(LSTM, kl, cfg.embed, cfg.hidden, cfg.layers),
            "out": {"w": jax.random.uniform(ko, (cfg.hidden, cfg.vocab), jnp.float32,
                                            -1 / math.sqrt(cfg.hidden), 1 / math.sqrt(cfg.hidden)),
                    "b": jnp.zeros((cfg.vocab,), jnp.float32)}}


def _out(params, h):
    return h @ params["out"]["w"] + params["out"]["b"]


def _nll(logits, targets):
    """-log softmax(logits)[target]; logits [..., V], targets [...] -> [...]."""
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), targets[..., None], -1)[..., 0]


def step(params, carries, token):
    """One time step for every layer. carries: list of (h, c); token: [B] -> (carries, logits [B, V])."""
    x = params["embed"][token]
    new = []
    for p, c in zip(params["lstm"], carries):
        c, x = LSTM.step(p, c, x)
        new.append(c)
    return new, _out(params, x)


def zeros(params, batch):
    return [LSTM.zeros(batch, p["wh"].shape[0]) for p in params["lstm"]]


def logits_teacher_forced(params, inputs):
    """inputs: [B, T] -> logits [B, T, V]; one hoisted-projection scan per layer."""
    ys, _ = rnn.run_stacked(LSTM, params["lstm"], params["embed"][inputs])
    return _out(params, ys)


def tf_loss(params, batch, key, step=0):
    """Teacher forcing: every input is the ground-truth previous character."""
    t = batch["tokens"]
    nll = _nll(logits_teacher_forced(params, t[:, :-1]), t[:, 1:]).mean()
    return nll, {"bits_per_char": nll / math.log(2.0)}


def make_ss_loss(eps_fn):
    """``loss(params, batch, key, step)`` with scheduled sampling; ``eps_fn(step)`` is the teacher-forcing
    probability (e.g. a :func:`jaxseq.training.schedules.teacher_forcing_prob` partial)."""
    def loss(params, batch, key, step):
        return ss_loss(params, batch, key, eps_fn(step))
    return loss


def ss_loss(params, batch, key, eps):
    """Scheduled sampling (Bengio et al. 2015 §2.4): at each step t > 0 the input is, per sequence, the
    ground-truth character with probability ``eps`` and otherwise a sample from the model's own
    prediction at step t - 1. The first input is always the ground truth. Samples are discrete, so no
    gradient flows through the choice (as in the paper). With eps = 1 this is teacher forcing exactly.

    batch: {"tokens": [B, T + 1] int32}; eps: a scalar (may be traced).
    """
    t = batch["tokens"]
    B, T1 = t.shape
    inputs, targets = t[:, :-1].T, t[:, 1:].T                      # time-major [T, B]
    keys = jax.random.split(key, T1 - 1)

    def body(carry, xs):
        carries, prev_sample = carry
        truth, target, k, first = xs
        km, ks = jax.random.split(k)
        tok = jnp.where(first, truth, mix(km, eps, truth, prev_sample))
        carries, logits = step(params, carries, tok)
        sample = jax.random.categorical(ks, jax.lax.stop_gradient(logits), axis=-1).astype(t.dtype)
        return (carries, sample), _nll(logits, target)

    first = jnp.arange(T1 - 1) == 0
    _, nll = jax.lax.scan(body, (zeros(params, B), inputs[0]), (inputs, targets, keys, first))
    nll = nll.mean()
    return nll, {"bits_per_char": nll / math.log(2.0), "eps": jnp.mean(eps)}


def sample(params, key, prefix, length, temperature=1.0):
    """Free-running generation: read ``prefix [B, P]`` (P >= 1), then feed back ``length`` samples.

    Returns ``[B, length]`` int32 tokens.
    """
    B = prefix.shape[0]
    carries = zeros(params, B)

    def read(c, tok):
        c, logits = step(params, c, tok)
        return c, logits
    carries, logits = jax.lax.scan(read, carries, prefix.T)
    last = logits[-1]

    def gen(carry, k):
        c, logits = carry
        tok = jax.random.categorical(k, logits / temperature, axis=-1).astype(jnp.int32)
        c, logits = step(params, c, tok)
        return (c, logits), tok
    _, toks = jax.lax.scan(gen, (carries, last), jax.random.split(key, length))
    return toks.T


# ------------------------------------------------------------------------------ text and vocabulary
def build_vocab(text):
    chars = sorted(set(text))
    return chars, {c: i for i, c in enumerate(chars)}


def encode(text, stoi):
    try:
        return np.array([stoi[c] for c in text], np.int32)
    except KeyError as e:
        raise ValueError(f"character {e.args[0]!r} is not in the vocabulary") from None


def decode(tokens, chars):
    return "".join(chars[int(i)] for i in tokens)


def random_windows(data, step, batch, length, seed=0):
    """``[batch, length]`` windows at seeded random offsets (deterministic in ``step``)."""
    rng = np.random.default_rng([seed, int(step)])
    starts = rng.integers(0, len(data) - length, batch)
    return np.stack([data[s:s + length] for s in starts])


# ------------------------------------------------------------------- character n-gram (Witten-Bell)
class CharNGram:
    """Interpolated Witten-Bell character n-gram model (Witten & Bell 1991; Chen & Goodman 1998 §2.5):

    P(c | h) = (C(h c) + N1+(h .) P(c | h')) / (C(h) + N1+(h .)), recursing down to an add-one unigram,
    where h' drops the oldest character. Used as an independent yardstick for generated text: a sample's
    bits/char under a model fit on the real training text.
    """

    def __init__(self, text, order=5, alphabet=None):
        self.order = order
        self.alphabet = sorted(set(alphabet if alphabet is not None else text))
        self.counts = [collections.Counter(text[i:i + n] for i in range(len(text) - n + 1))
                       for n in range(1, order + 1)]
        self.ctx_total, self.ctx_types = [], []
        for n in range(2, order + 1):
            tot, typ = collections.Counter(), collections.Counter()
            for g, c in self.counts[n - 1].items():
                tot[g[:-1]] += c
                typ[g[:-1]] += 1
            self.ctx_total.append(tot)
            self.ctx_types.append(typ)
        self.n_chars = sum(self.counts[0].values())
        self._cache = {}

    def prob(self, history, c):
        h = history[-(self.order - 1):] if self.order > 1 else ""
        key = (h, c)
        if key in self._cache:
            return self._cache[key]
        p = (self.counts[0].get(c, 0) + 1.0) / (self.n_chars + len(self.alphabet))
        for n in range(1, len(h) + 1):  # from the shortest context up
            ctx = h[-n:]
            tot = self.ctx_total[n - 1].get(ctx, 0)
            if tot:
                typ = self.ctx_types[n - 1][ctx]
                p = (self.counts[n].get(ctx + c, 0) + typ * p) / (tot + typ)
        self._cache[key] = p
        return p

    def bits_per_char(self, text, context=""):
        """Mean -log2 P of each character of ``text`` given what precedes it (``context`` first)."""
        full = context + text
        off = len(context)
        lp = [math.log2(self.prob(full[max(0, i - self.order + 1):i], full[i]))
              for i in range(off, len(full))]
        return -float(np.mean(lp))


def real_word_fraction(text, vocabulary):
    """Fraction of the whitespace-separated words of ``text`` (lower-cased, punctuation stripped) that
    occur in ``vocabulary`` (a set of words from real text)."""
    words = [w.strip(".,;:!?'\"-()[]&").lower() for w in text.split()]
    words = [w for w in words if w]
    return float(np.mean([w in vocabulary for w in words])) if words else 0.0


def word_set(text):
    return {w.strip(".,;:!?'\"-()[]&").lower() for w in text.split()} - {""}
