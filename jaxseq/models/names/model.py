"""Character RNNs over surnames: a language classifier and a (language-conditional) name generator.

Classifier (the PyTorch tutorial "classifying names with a character-level RNN", batched): one-hot
letters -> a recurrent cell (vanilla RNN with ReLU as the tutorial's seed, or LSTM / GRU) -> the state
after each name's last letter -> a dense layer to 18 language logits.

Generator (the tutorial "generating names with a character-level RNN", fixed): the input at every step is
the previous letter's one-hot concatenated with the language's one-hot (``conditional``; the seed's own
attempt left the language out and "failed"); an unconditional model, the baseline, reads letters only.
Token ids (see :mod:`jaxseq.data.names`): letters 1..57; id 0 is the start symbol as an input and the
end symbol as an output.

Shapes: ``ids [B, T]`` int32 letters with 0 padding, ``lengths [B]``, ``langs [B]``.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxseq.data.names import ALPHABET, N_LANGUAGES
from jaxseq.nn import cells, layers
from jaxseq.nn import scan as rnn
from jaxseq.nn.precision import at_least_f32

N_LETTERS = len(ALPHABET)      # 57
VOCAB = N_LETTERS + 1          # generator: start (input) / end (output) id 0, letters 1..57
START = END = 0
CELL_NAMES = ("rnn_relu", "rnn", "lstm", "gru")


def _relu_step_projected(params, h, xp, *, dropout_mask=None):
    """Elman step with ReLU, h' = relu(x W_x + b + h W_h), as the tutorial's seed model."""
    wh = params["wh"]
    h = jax.nn.relu(at_least_f32(xp + jnp.dot(h.astype(wh.dtype), wh)))
    if dropout_mask is not None:
        h = h * dropout_mask
    return h, h


RNN_RELU = cells.Cell(cells.rnn_init, cells.RNN.project, _relu_step_projected, cells.RNN.zeros)


def get_cell(name: str) -> cells.Cell:
    """``rnn_relu`` (above) or one of :data:`jaxseq.nn.cells.CELLS` (``rnn`` is tanh)."""
    return RNN_RELU if name == "rnn_relu" else cells.get_cell(name)


def _check_cell(name):
    if name not in CELL_NAMES:
        raise ValueError(f"cell = {name!r}: choose one of {CELL_NAMES}")


def _check_positive(cfg, *names):
    for n in names:
        v = getattr(cfg, n)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{n} = {v!r}: give a whole number >= 1")


def _zeros(cell, p, batch):
    """The cell's zero carry, float32 (float64 under x64 with float64 params: the gradient checks)."""
    dt = jnp.result_type(jnp.float32, p["wh"].dtype)
    return jax.tree_util.tree_map(lambda z: z.astype(dt), cell.zeros(batch, p["wh"].shape[0]))


def _letters(ids):
    """Letter ids -> one-hot [..., 57]; padding (0) is the zero vector."""
    return jax.nn.one_hot(ids - 1, N_LETTERS, dtype=jnp.float32)


# -------------------------------------------------------------------------------------- classifier
@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    cell: str = "rnn_relu"          # rnn_relu | rnn | lstm | gru
    hidden: int = 128               # recurrent state size (the tutorial's n_hidden)
    n_languages: int = N_LANGUAGES
    unroll: int = 1                 # lax.scan unroll (same math; fewer loop trips on a GPU)

    def __post_init__(self):
        _check_cell(self.cell)
        _check_positive(self, "hidden", "n_languages", "unroll")


def classifier_init(key, cfg: ClassifierConfig):
    kr, ko = jax.random.split(key)
    return {"rnn": get_cell(cfg.cell).init(kr, N_LETTERS, cfg.hidden),
            "out": layers.dense_init(ko, cfg.hidden, cfg.n_languages)}


def classify(params, cfg: ClassifierConfig, ids, lengths):
    """Language log-probabilities ``[B, n_languages]`` from the state after each name's last letter."""
    mask = jnp.arange(ids.shape[1])[None, :] < lengths[:, None]
    cell = get_cell(cfg.cell)
    _, final = rnn.run(cell, params["rnn"], _letters(ids), mask=mask,
                       carry=_zeros(cell, params["rnn"], ids.shape[0]), unroll=cfg.unroll)
    return jax.nn.log_softmax(layers.dense(params["out"], cells.hidden_of(final)))


def classifier_loss(params, batch, key, step, cfg: ClassifierConfig):
    """Mean cross-entropy (nats) and accuracy over ``batch`` {"ids", "lengths", "labels"} (rows with
    ``weight`` 0 are padding of an evaluation batch)."""
    logp = classify(params, cfg, batch["ids"], batch["lengths"])
    w = batch.get("weight", jnp.ones(logp.shape[:1], jnp.float32))
    nll = -jnp.take_along_axis(logp, batch["labels"][:, None], -1)[:, 0]
    n = jnp.maximum(w.sum(), 1.0)
    acc = ((logp.argmax(-1) == batch["labels"]) * w).sum() / n
    return (nll * w).sum() / n, {"accuracy": acc}


# --------------------------------------------------------------------------------------- generator
@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    cell: str = "gru"               # rnn_relu | rnn | lstm | gru
    hidden: int = 128               # state size per layer
    layers: int = 1
    conditional: bool = True        # the language one-hot joins the input at every step
    dropout: float = 0.1            # on the top layer's output, as the tutorial (training only)
    n_languages: int = N_LANGUAGES
    unroll: int = 1                 # lax.scan unroll (same math; fewer loop trips on a GPU)

    def __post_init__(self):
        _check_cell(self.cell)
        _check_positive(self, "hidden", "layers", "n_languages", "unroll")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout = {self.dropout!r}: give a rate in [0, 1)")

    @property
    def in_dim(self):
        return VOCAB + (self.n_languages if self.conditional else 0)


def generator_init(key, cfg: GeneratorConfig):
    kr, ko = jax.random.split(key)
    return {"rnn": rnn.stacked_init(get_cell(cfg.cell), kr, cfg.in_dim, cfg.hidden, cfg.layers),
            "out": layers.dense_init(ko, cfg.hidden, VOCAB)}


def _inputs(cfg, tokens, langs):
    """[..., VOCAB (+ n_languages)] inputs: the token's one-hot, then the language's."""
    x = jax.nn.one_hot(tokens, VOCAB, dtype=jnp.float32)
    if not cfg.conditional:
        return x
    lang = jax.nn.one_hot(langs, cfg.n_languages, dtype=jnp.float32)
    lang = jnp.broadcast_to(lang.reshape(lang.shape[:1] + (1,) * (x.ndim - 2) + lang.shape[1:]),
                            x.shape[:-1] + lang.shape[-1:])
    return jnp.concatenate([x, lang], -1)


def teacher_forced(ids, lengths):
    """``(inputs, targets, mask)`` ``[B, T + 1]``: start then the letters; the letters then end."""
    B = ids.shape[0]
    z = jnp.zeros((B, 1), ids.dtype)
    inputs = jnp.concatenate([z + START, ids], 1)
    targets = jnp.concatenate([ids, z], 1)            # the 0 after the last letter is END
    mask = jnp.arange(ids.shape[1] + 1)[None, :] <= lengths[:, None]
    return inputs, targets, mask.astype(jnp.float32)


def name_nll(params, cfg: GeneratorConfig, ids, lengths, langs, key=None):
    """``(nll [B], n_tokens [B])``: each name's summed NLL in nats of its letters and its end, and how
    many tokens that is (letters + 1). ``key`` switches dropout on (training)."""
    inputs, targets, mask = teacher_forced(ids, lengths)
    cell = get_cell(cfg.cell)
    ys, _ = rnn.run_stacked(cell, params["rnn"], _inputs(cfg, inputs, langs), mask=mask,
                            carries=[_zeros(cell, p, ids.shape[0]) for p in params["rnn"]],
                            unroll=cfg.unroll)
    ys = layers.dropout(key, ys, cfg.dropout)
    logp = jax.nn.log_softmax(layers.dense(params["out"], ys))
    nll = -jnp.take_along_axis(logp, targets[..., None], -1)[..., 0]
    return (nll * mask).sum(1), mask.sum(1)


def generator_loss(params, batch, key, step, cfg: GeneratorConfig):
    """Mean NLL per token (nats; letters and the end symbol) over ``batch`` {"ids", "lengths", "labels"}."""
    nll, n = name_nll(params, cfg, batch["ids"], batch["lengths"], batch["labels"], key)
    w = batch.get("weight", jnp.ones(nll.shape, jnp.float32))
    per_tok = (nll * w).sum() / jnp.maximum((n * w).sum(), 1.0)
    return per_tok, {"nll_per_name": (nll * w).sum() / jnp.maximum(w.sum(), 1.0)}


def generator_step(params, cfg: GeneratorConfig, carries, token, langs):
    """One step of every layer: ``token [B]`` -> ``(carries, logits [B, VOCAB])``."""
    x = _inputs(cfg, token, langs)
    cell, new = get_cell(cfg.cell), []
    for p, c in zip(params["rnn"], carries):
        c, x = cell.step(p, c, x)
        new.append(c)
    return new, layers.dense(params["out"], x)


def sample(params, cfg: GeneratorConfig, key, langs, prefix, prefix_len, max_len, temperature=1.0):
    """Generate names, all in one ``lax.scan`` of ``max_len + 1`` steps (jit it with ``cfg`` and
    ``max_len`` static).

    ``langs [B]`` (ignored by an unconditional model); ``prefix [B, max_len + 1]`` letter ids forced at
    the first ``prefix_len [B]`` positions (the start letters); after that letters are drawn from
    softmax(logits / temperature) until the end symbol. Returns ``[B, max_len + 1]`` ids, 0 after the end
    (a name that has not ended by ``max_len`` letters is cut there).
    """
    B = langs.shape[0]
    carries = [_zeros(get_cell(cfg.cell), p, B) for p in params["rnn"]]
    keys = jax.random.split(key, max_len + 1)

    def body(state, xs):
        carries, tok, done = state
        k, forced, t = xs
        carries, logits = generator_step(params, cfg, carries, tok, langs)
        drawn = jax.random.categorical(k, logits / temperature, axis=-1).astype(jnp.int32)
        nxt = jnp.where(t < prefix_len, forced, drawn)
        out = jnp.where(done, END, nxt)
        return (carries, nxt, done | (nxt == END)), out

    start = jnp.full((B,), START, jnp.int32)
    xs = (keys, prefix.T.astype(jnp.int32), jnp.arange(max_len + 1))
    _, out = jax.lax.scan(body, (carries, start, jnp.zeros((B,), bool)), xs, unroll=cfg.unroll)
    return out.T
