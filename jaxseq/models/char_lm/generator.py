"""The char-LSTM as a text generator (Karpathy's char-rnn set-up): truncated BPTT over ``batch_size``
parallel contiguous streams of the corpus, the LSTM state carried from each window of ``seq_len``
characters to the next, and validation bits/char over the whole held-out text (read as a few long
streams, state carried throughout, so no character is scored without its context).

:func:`jaxseq.training.loop.fit` draws independent batches; a carried state needs the previous step's
output, so this module runs its own short loop over the same pieces (``loop.make_optimizer``,
``loop.make_train_step``, :class:`~jaxseq.training.checkpoint.Checkpointer`, ``check_resume``). The
carry is saved with the optimizer state, so a resumed run continues exactly where it stopped.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.charset import Charset
from jaxseq.data.files import require_kind
from jaxseq.errors import DataError
from jaxseq.models.char_lm import model as cr
from jaxseq.paths import as_path
from jaxseq.training import loop
from jaxseq.training.checkpoint import Checkpointer, check_resume, write_history

BEST = "val_bits_per_char"


@dataclasses.dataclass
class GenConfig:
    steps: int = 4000             # optimizer steps (one window of every stream each; 61 per pass)
    batch_size: int = 128         # parallel contiguous streams of the training text
    seq_len: int = 128            # characters per truncated-BPTT window
    embed: int = 64               # character embedding size
    hidden: int = 320             # LSTM size (2 x 320: 1.3M params, 2.7 MB in bfloat16)
    layers: int = 2               # LSTM layers
    dropout: float = 0.25         # between layers and before the softmax (not on the recurrent path)
    lr: float = 2e-3              # Adam peak learning rate (warm-up, then cosine to lr / 20)
    warmup: int = 200             # linear warm-up steps
    clip_norm: float = 5.0        # global gradient-norm clip
    eval_every: int = 250         # steps between validation passes (the best step is kept)
    val_streams: int = 16         # validation text read as this many contiguous streams
    unroll: int = 4               # lax.scan unroll (speed only)
    log_every: int = 50           # steps between training-loss rows
    seed: int = 0                 # init, dropout

    def __post_init__(self):
        for name in ("steps", "batch_size", "seq_len", "embed", "hidden", "layers", "eval_every",
                     "val_streams", "unroll", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)}: must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout = {self.dropout}: a probability in [0, 1)")
        if not self.lr > 0:
            raise ValueError(f"lr = {self.lr}: the learning rate must be > 0")
        if self.warmup < 0 or self.clip_norm < 0:
            raise ValueError(f"warmup = {self.warmup}, clip_norm = {self.clip_norm}: must be >= 0")


def make_streams(ids, n, what="the text"):
    """``[n, L]`` int32: ``ids`` cut into ``n`` contiguous streams of equal length (the tail that does
    not divide evenly is dropped). DataError naming ``what`` when a stream would hold < 2 characters."""
    ids = np.asarray(ids, np.int32)
    length = len(ids) // n
    if length < 2:
        raise DataError(f"{what}: {len(ids)} characters cannot fill {n} streams of at least 2; give more "
                        f"text or fewer streams")
    return ids[:n * length].reshape(n, length)


def windows_per_pass(streams, seq_len):
    """How many windows of ``seq_len`` predicted characters fit in each stream (one pass, an epoch)."""
    return (streams.shape[1] - 1) // seq_len


def window(streams, step, seq_len):
    """``(tokens [B, seq_len + 1], keep [B])`` of training step ``step``: window ``step mod n`` of every
    stream (consecutive windows overlap by one character, the next window's first input); ``keep`` is 0
    on each pass's first window, where the carried state is reset."""
    w = step % windows_per_pass(streams, seq_len)
    tokens = streams[:, w * seq_len: w * seq_len + seq_len + 1]
    return tokens, np.full((streams.shape[0],), float(w > 0), np.float32)


def check_corpus(cfg: GenConfig, train_ids, val_ids, source="the text"):
    """DataError naming ``source`` when a training stream cannot hold one window or the validation part
    cannot fill its streams."""
    need = cfg.batch_size * (cfg.seq_len + 1)
    if len(train_ids) < need:
        raise DataError(f"{source}: the training part holds {len(train_ids)} characters; "
                        f"{cfg.batch_size} streams of a {cfg.seq_len}-character window need {need}. "
                        f"Give more text, or lower --batch-size / --seq-len")
    make_streams(val_ids, cfg.val_streams, f"{source} (validation part)")


@jax.jit
def stream_nll(params, streams):
    """Mean NLL in nats of every character after the first of each stream ``[S, L]``, teacher forced with
    the state carried from each stream's start (exact: nothing is truncated at evaluation)."""
    logits = cr.logits_teacher_forced(params, streams[:, :-1])
    return cr._nll(logits, streams[:, 1:]).mean()


def bits_per_char(params, ids, n_streams):
    """Bits per character of ``ids`` read as ``n_streams`` contiguous streams."""
    return float(stream_nll(params, jnp.asarray(make_streams(ids, n_streams)))) / math.log(2.0)


def model_config(cfg: GenConfig, charset: Charset) -> cr.CharRNNConfig:
    return cr.CharRNNConfig(charset.size, cfg.embed, cfg.hidden, cfg.layers)


def train_config(cfg: GenConfig) -> loop.TrainConfig:
    return loop.TrainConfig(steps=cfg.steps, lr=cfg.lr, schedule="cosine", warmup=cfg.warmup,
                            min_lr=cfg.lr / 20, clip_norm=cfg.clip_norm, seed=cfg.seed,
                            log_every=cfg.log_every, eval_every=cfg.eval_every, keep=1)


@functools.lru_cache(maxsize=8)
def _step_fn(tcfg_key, dropout, unroll):
    """The jitted train step (cached: a resumed run in one process compiles once)."""
    tcfg = loop.TrainConfig(**dict(tcfg_key))
    loss = functools.partial(cr.stream_loss, dropout=dropout, unroll=unroll)
    optimizer = loop.make_optimizer(tcfg)
    return optimizer, loop.make_train_step(loss, optimizer)


def train(cfg: GenConfig, train_ids, val_ids, charset: Charset, ckpt_dir, *, time_budget_s=None,
          progress=True, log=None):
    """Train (or resume) the generator into ``ckpt_dir``. Returns ``(params, history)``; the history
    (``{"step", loss/bits_per_char/steps_per_s}`` and ``{"step", "val_bits_per_char"}`` rows) is also
    merged into ``ckpt_dir/history.json``. ``history.stopped`` is ``"time_budget"`` when it ran out."""
    log = log or logging.getLogger("jaxseq.char_lm").info
    check_corpus(cfg, train_ids, val_ids)
    mcfg = model_config(cfg, charset)
    tcfg = train_config(cfg)
    optimizer, train_step = _step_fn(tuple(sorted(dataclasses.asdict(tcfg).items())), cfg.dropout,
                                     cfg.unroll)
    streams = make_streams(train_ids, cfg.batch_size, "the training text")
    val = jnp.asarray(make_streams(val_ids, cfg.val_streams))
    params = cr.init(jax.random.PRNGKey(cfg.seed), mcfg)
    state = (optimizer.init(params), cr.zeros(params, cfg.batch_size))   # optimizer state, carry
    meta = {"config": dataclasses.asdict(cfg), "task": "generator", "charset": charset.to_json(),
            "model": dataclasses.asdict(mcfg)}
    ckpt = Checkpointer(as_path(ckpt_dir), keep=1, best_metric=BEST)
    hist, start = loop.History(), 0
    try:
        last = ckpt.latest_step()
        if last is not None:
            require_kind(ckpt_dir, ckpt.read_meta(last), "character LM")
        meta = check_resume(None if last is None else ckpt.read_meta(last), meta, tcfg,
                            where=f"{ckpt.directory} step {last}")
        if last is not None:
            params, state, _ = ckpt.restore(last, params_like=params, opt_state_like=state)
            start = last
            log(f"resumed from {ckpt.directory} at step {start}")
        params, state = jax.device_put((params, state))
        opt_state, carry = state
        key = jax.random.PRNGKey(cfg.seed)
        bar = loop._bar(cfg.steps, start, progress)
        t_start, t_log, s_log, acc, times, evals = time.perf_counter(), time.perf_counter(), start, [], [], []

        def evaluate(step):
            t0 = time.perf_counter()
            row = {"step": step, BEST: float(stream_nll(params, val)) / math.log(2.0)}
            evals.append(time.perf_counter() - t0)
            hist.append(row)
            log(f"step {step}: validation {row[BEST]:.4f} bits/char")
            return {BEST: row[BEST]}

        done, metrics = start, None
        for step in range(start, cfg.steps):
            ts = time.perf_counter()
            tokens, keep = window(streams, step, cfg.seq_len)
            batch = {"tokens": jnp.asarray(tokens), "keep": jnp.asarray(keep), "carry": carry}
            params, opt_state, m = train_step(params, opt_state, batch, jax.random.fold_in(key, step),
                                              jnp.asarray(step, jnp.int32))
            carry = m.pop("carry")
            acc.append(m)
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps:
                row = {k: float(np.mean([a[k] for a in jax.device_get(acc)])) for k in acc[0]}
                row["steps_per_s"] = (done - s_log) / (time.perf_counter() - t_log)
                if not np.isfinite(row["loss"]):
                    raise FloatingPointError(f"loss became {row['loss']} at step {done}; lower --lr")
                hist.append({"step": done, **row})
                t_log, s_log, acc = time.perf_counter(), done, []
                if bar is None:
                    log(f"step {done}: {row['bits_per_char']:.4f} bits/char ({row['steps_per_s']:.1f} "
                        f"steps/s)")
                else:
                    bar.set_postfix(bpc=f"{row['bits_per_char']:.3f}")
            if bar is not None:
                bar.update(1)
            if done % cfg.eval_every == 0 and done != cfg.steps:
                metrics = evaluate(done)
                ckpt.save(done, params, (opt_state, carry), meta=meta, metrics=metrics)
            times.append(time.perf_counter() - ts)
            if time_budget_s is not None and done < cfg.steps:
                per = float(np.median(times[1:][-50:])) if len(times) > 1 else 0.0
                left = time_budget_s - (time.perf_counter() - t_start)
                if left < 30 * per + 2 * (max(evals) if evals else 5.0) + 15.0:
                    log(f"time budget reached at step {done}; saving (run again to resume)")
                    hist.stopped = "time_budget"
                    break
        if bar is not None:
            bar.close()
        hist.step = done
        if done > start or last is None:
            metrics = evaluate(done)
            ckpt.save(done, params, (opt_state, carry), meta=meta, metrics=metrics)
        else:   # a finished run: only evaluate it
            evaluate(done)
        write_history(ckpt.directory, hist)
    finally:
        ckpt.close()
    return jax.device_get(params), hist
