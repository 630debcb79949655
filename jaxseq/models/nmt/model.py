"""Luong et al. 2015 attentional encoder-decoder ("Effective Approaches to Attention-based NMT").

Encoder: embeddings -> stacked (bi)LSTM/GRU (``jaxseq.nn.scan``, one ``lax.scan`` per layer and direction).
Decoder: stacked LSTM; at step t the top state h_t attends over the source (global attention, §3.1,
score dot/general/concat), ``h~_t = tanh(W_c [c_t; h_t])`` (eq. 5), ``p(y_t) = softmax(W_s h~_t)`` (eq. 6).
Input feeding (§3.3): ``h~_{t-1}`` is concatenated to the embedding of ``y_{t-1}``.

Decoding drives :func:`decoder_start` / :func:`decoder_step` (``(state, token) -> (state, logits)``)
through :mod:`jaxseq.search`; training and decoding share one step function (``_attend_step``).

Params are a dict pytree; the model config :class:`NMTConfig` is a frozen dataclass (hashable, so it can
be a static jit argument). Shapes: src [B, S] int32, src_mask [B, S]; tgt_in/tgt_out [B, T].
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxseq.data.files import require_kind
from jaxseq.nn import attention
from jaxseq.nn import scan as rnn
from jaxseq.nn import teacher_forcing as scheduled_sampling
from jaxseq.nn.cells import LSTM, get_cell
from jaxseq.nn.layers import dense_weight, dropout
from jaxseq.nn.precision import cast_params as _cast, get_policy
from jaxseq.paths import as_path
from jaxseq.training import checkpoint, schedules


@dataclasses.dataclass(frozen=True)
class NMTConfig:
    src_vocab: int
    tgt_vocab: int
    emb: int = 128
    hidden: int = 256
    layers: int = 1                 # encoder and decoder layers (encoder states initialise the decoder)
    cell: str = "lstm"              # encoder cell: lstm | gru (the decoder is an LSTM)
    bidirectional: bool = True      # each direction has hidden/2 units, outputs concatenated
    score: str = "general"          # dot | general | concat
    input_feed: bool = True
    dropout: float = 0.2
    ss: str = "none"                # scheduled sampling: none | linear | exponential | inverse_sigmoid
    ss_k: float | None = None       # None: the schedule's own default (schedules._DEFAULT_K);
    ss_c: float = 1e-4              # one shared k (e.g. 1000) would keep a linear schedule at eps = 1
    ss_min: float = 0.0
    compute_dtype: str = "float32"  # float32 | bfloat16 (losses stay float32)
    unroll: int = 1                 # lax.scan unroll of encoder and decoder loops (a GPU speed knob)
    tied: bool = False              # one embedding table for source, target and output (Press & Wolf
                                    # 2017; a joint subword vocabulary): logits = (h~ W_p) E^T + b

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d):
        return cls(**d)


def init(key, cfg: NMTConfig):
    if cfg.bidirectional and cfg.hidden % 2:
        raise ValueError(f"bidirectional encoder needs an even hidden size, got {cfg.hidden}")
    if cfg.tied and cfg.src_vocab != cfg.tgt_vocab:
        raise ValueError(f"tied embeddings need one joint vocabulary, got source {cfg.src_vocab} and "
                         f"target {cfg.tgt_vocab} entries")
    ks = jax.random.split(key, 8 + 2 * cfg.layers)
    enc_cell = get_cell(cfg.cell)
    H, E = cfg.hidden, cfg.emb
    eh = H // 2 if cfg.bidirectional else H
    enc = []
    for i in range(cfg.layers):
        d = E if i == 0 else H
        enc.append(rnn.bidirectional_init(enc_cell, ks[8 + i], d, eh) if cfg.bidirectional
                   else enc_cell.init(ks[8 + i], d, eh))
    dec_in0 = E + (H if cfg.input_feed else 0)
    dec = [LSTM.init(ks[8 + cfg.layers + i], dec_in0 if i == 0 else H, H) for i in range(cfg.layers)]
    common = {"enc": enc, "dec": dec, "attn": attention.luong_init(ks[2], cfg.score, H, H),
              "wc": dense_weight(ks[3], 2 * H, H, "uniform"), "out_b": jnp.zeros((cfg.tgt_vocab,))}
    if cfg.tied:
        return dict(common, emb=jax.random.normal(ks[0], (cfg.src_vocab, E)) * 0.1,
                    out_proj=dense_weight(ks[4], H, E, "uniform"))
    return dict(common, src_emb=jax.random.normal(ks[0], (cfg.src_vocab, E)) * 0.1,
                tgt_emb=jax.random.normal(ks[1], (cfg.tgt_vocab, E)) * 0.1,
                out_w=dense_weight(ks[4], H, cfg.tgt_vocab, "uniform"))


def _table(params, side):
    """The embedding table of ``side`` (src_emb / tgt_emb), the shared one of a tied model."""
    return params["emb"] if "emb" in params else params[side]


def cast_params(params, cfg: NMTConfig):
    """The compute copy of ``params`` in ``cfg.compute_dtype`` (a no-op on an already cast copy)."""
    return _cast(params, get_policy(cfg.compute_dtype))


def _lstm_carry(carry):
    """A decoder LSTM carry from an encoder final carry (a GRU has no cell state: start it at zero)."""
    return carry if isinstance(carry, tuple) else (carry, jnp.zeros_like(carry))


def encode(params, cfg: NMTConfig, src, src_mask, key=None):
    """-> (enc [B, S, H], decoder initial carries: list of (h, c) per layer)."""
    cell = get_cell(cfg.cell)
    keys = [None] * (cfg.layers + 1) if key is None else list(jax.random.split(key, cfg.layers + 1))
    x = dropout(keys[0], _table(params, "src_emb")[src], cfg.dropout)
    finals = []
    for i, p in enumerate(params["enc"]):
        if i > 0:
            x = dropout(keys[i], x, cfg.dropout)
        if cfg.bidirectional:
            x, (ff, fb) = rnn.run_bidirectional(cell, p, x, mask=src_mask, unroll=cfg.unroll)
            f = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b], -1), ff, fb)
        else:
            x, f = rnn.run(cell, p, x, mask=src_mask, unroll=cfg.unroll)
        finals.append(_lstm_carry(f))
    return x, finals


def _attend_step(params, cfg: NMTConfig, state, xp0, ctx, drop=None):
    """One decoder step, shared by training and decoding. state: (carries, h~_{t-1} [B,H]); xp0: [B, 4H]
    the projected embedding of the input token (first-layer gates from the embedding part only).
    ctx: (enc, enc_keys, src_mask). ``drop``: None or (inter-layer masks [L-1, B, H], output mask [B, H]),
    pre-scaled by 1/keep. Returns (state, h~_t [B, H], attention weights [B, S])."""
    carries, h_tilde = state
    enc, enc_keys, src_mask = ctx
    new = []
    x = None
    for i, p in enumerate(params["dec"]):
        if i == 0:
            xp = xp0
            if cfg.input_feed:  # §3.3: feed h~_{t-1}; its part of the projection cannot be hoisted
                xp = xp + jnp.dot(h_tilde.astype(p["wx"].dtype), p["wx"][cfg.emb:])
        else:
            if drop is not None:
                x = x * drop[0][i - 1]
            xp = LSTM.project(p, x)
        c, x = LSTM.step_projected(p, carries[i], xp)
        new.append(c)
    h = x
    context, w = attention.luong_attend(params["attn"], cfg.score, h, enc, src_mask, enc_keys)
    h_tilde = jnp.tanh(jnp.dot(jnp.concatenate([context, h.astype(context.dtype)], -1), params["wc"]))
    if drop is not None:
        h_tilde = h_tilde * drop[1]
    return (new, h_tilde), h_tilde, w


def embed_project(params, cfg: NMTConfig, ids):
    """First decoder layer gates from the token embedding: ids [...] -> [..., 4H]."""
    p = params["dec"][0]
    return jnp.dot(_table(params, "tgt_emb")[ids], p["wx"][:cfg.emb]) + p["b"]


def _init_state(cfg, finals, batch):
    return (finals, jnp.zeros((batch, cfg.hidden), finals[0][0].dtype))


def logits_of(params, h_tilde):
    if "out_proj" in params:   # tied: the output layer is the embedding table, through a projection
        return (jnp.dot(jnp.dot(h_tilde, params["out_proj"]), params["emb"].T)
                + params["out_b"]).astype(jnp.float32)
    return (jnp.dot(h_tilde, params["out_w"]) + params["out_b"]).astype(jnp.float32)


# ------------------------------------------------------------------------- the decoder for search
def decoder_start(params, cfg: NMTConfig, src, src_mask):
    """Encode the source; the decoder state before its first token, for :mod:`jaxseq.search`.

    src: [B, S] int32, src_mask: [B, S]. The state is a dict of arrays with the batch on axis 0:
    ``carries`` (per layer (h, c)), ``h_tilde`` [B, H] (the attentional state fed back, §3.3), ``attn``
    [B, S] (the last attention weights) and the source context ``enc``, ``keys``, ``src_mask``.
    """
    params = cast_params(params, cfg)
    enc, finals = encode(params, cfg, src, src_mask)
    carries, h_tilde = _init_state(cfg, finals, src.shape[0])
    return {"carries": carries, "h_tilde": h_tilde, "attn": jnp.zeros(src_mask.shape, jnp.float32),
            "enc": enc, "keys": attention.precompute_keys(params["attn"], cfg.score, enc),
            "src_mask": src_mask}


def decoder_step(params, cfg: NMTConfig, state, token):
    """``(state, token [B] int32) -> (state, logits [B, V] float32)``: feed one target token (``<sos>``
    first). Pass :func:`cast_params` params to skip the per-step cast under a bfloat16 policy."""
    params = cast_params(params, cfg)
    ctx = (state["enc"], state["keys"], state["src_mask"])
    (carries, h_tilde), _, w = _attend_step(params, cfg, (state["carries"], state["h_tilde"]),
                                            embed_project(params, cfg, token), ctx)
    state = dict(state, carries=carries, h_tilde=h_tilde, attn=w.astype(jnp.float32))
    return state, logits_of(params, h_tilde)


def forward(params, cfg: NMTConfig, batch, key=None, *, ss_eps=1.0, return_attn=False):
    """Teacher-forced (optionally scheduled-sampled) decoder over the whole target.

    Returns logits [B, T, V] (float32) and, with ``return_attn``, attention [B, T, S].
    ``key`` enables dropout (training) and the scheduled-sampling draws (when ``cfg.ss != 'none'``).
    """
    params = cast_params(params, cfg)
    src, src_mask, tgt_in = batch["src"], batch["src_mask"], batch["tgt_in"]
    B, T = tgt_in.shape
    H, L = cfg.hidden, cfg.layers
    k_enc = k_drop = k_ss = None
    if key is not None:
        k_enc, k_drop, k_ss = jax.random.split(key, 3)
    enc, finals = encode(params, cfg, src, src_mask, k_enc)
    ctx = (enc, attention.precompute_keys(params["attn"], cfg.score, enc), src_mask)
    xp_truth = jnp.swapaxes(embed_project(params, cfg, tgt_in), 0, 1)   # hoisted: [T, B, 4H]
    drops = None
    if k_drop is not None and cfg.dropout > 0:
        keep = 1.0 - cfg.dropout
        m = jax.random.bernoulli(k_drop, keep, (T, L, B, H)).astype(enc.dtype) / keep
        drops = (m[:, :L - 1] if L > 1 else jnp.ones((T, 0, B, H), enc.dtype), m[:, L - 1])
    use_ss = cfg.ss != "none" and k_ss is not None
    ss_keys = jax.random.split(k_ss, T) if use_ss else None   # None leaves are empty pytrees in scan

    def body(carry, inp):
        state, prev_logits = carry
        xp_t, drop_t, k_t, t = inp
        if use_ss:  # Bengio et al. 2015: feed the model's own sample with prob 1 - eps (never at t=0)
            k1, k2 = jax.random.split(k_t)
            sampled = jax.random.categorical(k1, prev_logits)
            xp_s = embed_project(params, cfg, sampled).astype(xp_t.dtype)
            xp_t = jnp.where(t == 0, xp_t, scheduled_sampling.mix(k2, ss_eps, xp_t, xp_s))
        state, h_tilde, w = _attend_step(params, cfg, state, xp_t, ctx, drop_t)
        nxt = logits_of(params, h_tilde) if use_ss else prev_logits
        return (state, nxt), (h_tilde, w)

    prev = jnp.zeros((B, cfg.tgt_vocab) if use_ss else (1,), jnp.float32)
    _, (h_tildes, attn) = jax.lax.scan(body, (_init_state(cfg, finals, B), prev),
                                       (xp_truth, drops, ss_keys, jnp.arange(T)), unroll=cfg.unroll)
    logits = logits_of(params, jnp.swapaxes(h_tildes, 0, 1))             # one big matmul: [B, T, V]
    if return_attn:
        return logits, jnp.swapaxes(attn, 0, 1)
    return logits


def loss_fn(params, cfg: NMTConfig, batch, key=None, *, ss_eps=1.0):
    """Mean token cross-entropy over real target tokens. -> (loss, metrics)."""
    logits = forward(params, cfg, batch, key, ss_eps=ss_eps)
    logp = jax.nn.log_softmax(logits, -1)
    nll = -jnp.take_along_axis(logp, batch["tgt_out"][..., None], -1)[..., 0]
    m = batch["tgt_mask"].astype(jnp.float32)
    ntok = m.sum()
    loss = (nll * m).sum() / jnp.maximum(ntok, 1.0)
    acc = ((logits.argmax(-1) == batch["tgt_out"]) * m).sum() / jnp.maximum(ntok, 1.0)
    return loss, {"nll": loss, "acc": acc, "tokens": ntok}


def tf_prob(cfg: NMTConfig, step):
    """Teacher-forcing probability eps at ``step`` (1.0 without scheduled sampling); ``cfg.ss_k=None``
    takes the schedule's own default k."""
    if cfg.ss == "none":
        return 1.0
    return schedules.teacher_forcing_prob(step, cfg.ss, k=cfg.ss_k, c=cfg.ss_c, eps_min=cfg.ss_min)


def make_loss(cfg: NMTConfig):
    """``loss(params, batch, key, step)`` for :func:`jaxseq.training.loop.fit`. With scheduled sampling,
    eps follows the schedule of the training step (from the loop, never from the batch)."""
    def f(params, batch, key, step):
        eps = tf_prob(cfg, step)
        loss, m = loss_fn(params, cfg, batch, key, ss_eps=eps)
        return loss, dict(m, tf_prob=jnp.asarray(eps, jnp.float32))
    return f


# ------------------------------------------------------------------------------------ checkpoints
def save(directory, params, meta, dtype="float32"):
    """A params-only checkpoint (for shipping) at step ``meta["step"]`` with ``meta``, which must hold
    ``model`` (the config JSON) and the vocabularies; ``param_dtype`` records ``dtype`` (float32 or
    bfloat16). Returns its size in bytes."""
    ck = checkpoint.Checkpointer(directory, keep=1)   # an Orbax save: every process calls it
    try:
        ck.save(meta.get("step", 0), checkpoint.cast_floats(jax.device_get(params), dtype), None,
                meta=dict(meta, param_dtype=str(dtype)))
    finally:
        ck.close()
    return sum(f.stat().st_size for f in as_path(directory).rglob("*") if f.is_file())


def restore(directory, step=None):
    """``(params float32, NMTConfig, meta)`` from a training run or an export (``step``: default the
    best recorded step, else the latest)."""
    params, meta = checkpoint.load_for_sampling(directory, step=step, dtype="float32")
    require_kind(directory, meta, "NMT")
    return jax.tree_util.tree_map(jnp.asarray, params), NMTConfig.from_json(meta["model"]), meta
