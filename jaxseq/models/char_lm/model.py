"""Character-level LSTM language model (embedding -> stacked LSTM -> softmax), trained with teacher forcing
or with scheduled sampling (Bengio et al. 2015), and free-running sampling.

Shapes: ``tokens: [B, T + 1]`` int32; the model reads ``tokens[:, :-1]`` and predicts ``tokens[:, 1:]``.
Losses are mean NLL in nats per predicted character (``bits = nats / ln 2``).
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxseq.nn import layers
from jaxseq.nn import scan as rnn
from jaxseq.nn.cells import LSTM
from jaxseq.nn.teacher_forcing import mix


@dataclasses.dataclass(frozen=True)
class CharRNNConfig:
    vocab: int                    # charset size (id 0 is the charset's unknown symbol)
    embed: int = 32
    hidden: int = 256
    layers: int = 1


def init(key, cfg: CharRNNConfig):
    ke, kl, ko = jax.random.split(key, 3)
    return {"embed": 0.1 * jax.random.normal(ke, (cfg.vocab, cfg.embed), jnp.float32),
            "lstm": rnn.stacked_init(LSTM, kl, cfg.embed, cfg.hidden, cfg.layers),
            "out": layers.dense_init(ko, cfg.hidden, cfg.vocab, "uniform")}


def _out(params, h):
    return layers.dense(params["out"], h)


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


def stream_loss(params, batch, key, step=0, *, dropout=0.0, unroll=1):
    """Truncated BPTT over contiguous streams: the LSTM starts from the state the previous window of each
    stream ended in (``batch["carry"]``, one ``(h, c)`` per layer), zeroed where ``batch["keep"]`` is 0 (a
    stream's first window). Gradients stop at the window's start; the new state comes back in the
    metrics as ``"carry"`` (stop-gradient) for the next window.

    batch: {"tokens": [B, T + 1] int32, "carry": [(h [B, H], c [B, H])] * layers, "keep": [B] float}.
    ``dropout`` (with ``key``) drops LSTM outputs between layers and before the softmax (Zaremba et al.
    2014: never on the recurrent path).
    """
    t = batch["tokens"]
    keep = batch["keep"][:, None]
    carries = jax.lax.stop_gradient(jax.tree_util.tree_map(lambda a: a * keep, batch["carry"]))
    drop = key is not None and dropout > 0.0
    kd, ko = jax.random.split(key) if drop else (None, None)
    ys, finals = rnn.run_stacked(LSTM, params["lstm"], params["embed"][t[:, :-1]], carries=carries,
                                 unroll=unroll, dropout_key=kd, dropout_rate=dropout)
    if drop:
        ys = layers.dropout(ko, ys, dropout)
    nll = _nll(_out(params, ys), t[:, 1:]).mean()
    return nll, {"bits_per_char": nll / math.log(2.0), "carry": jax.lax.stop_gradient(finals)}


def sample(params, key, prefix, length, temperature=1.0, allow_unknown=True):
    """Free-running generation: read ``prefix [B, P]`` (P >= 1), then feed back ``length`` characters,
    each drawn from softmax(logits / temperature), or the most likely one (greedy) where
    ``temperature`` is 0. ``temperature`` may be traced (a scalar, or one per row ``[B]``), so one
    compilation serves every temperature. ``allow_unknown=False`` never emits id 0 (the charset's
    unknown symbol).

    Returns ``[B, length]`` int32 tokens.
    """
    B = prefix.shape[0]
    carries = zeros(params, B)
    temp = jnp.broadcast_to(jnp.asarray(temperature, jnp.float32), (B,))[:, None]
    greedy = temp <= 0.0

    def read(c, tok):
        c, logits = step(params, c, tok)
        return c, logits
    carries, logits = jax.lax.scan(read, carries, prefix.T)
    last = logits[-1]

    def gen(carry, k):
        c, logits = carry
        if not allow_unknown:
            logits = logits.at[:, 0].set(-jnp.inf)
        drawn = jax.random.categorical(k, logits / jnp.where(greedy, 1.0, temp), axis=-1)
        tok = jnp.where(greedy[:, 0], jnp.argmax(logits, -1), drawn).astype(jnp.int32)
        c, logits = step(params, c, tok)
        return (c, logits), tok
    _, toks = jax.lax.scan(gen, (carries, last), jax.random.split(key, length))
    return toks.T


sample_jit = jax.jit(sample, static_argnames=("length", "allow_unknown"))   # one compilation per (shape, length)
