"""Training plumbing for the handwriting networks: static-shape batches of lines with their text, the
run setup (charset, text bucket, kappa rule, init from another checkpoint), the checkpoint meta, the
resumable training run itself and validation NLL.

Lines are stroke-3 arrays ``[T_i, 3]`` (dx, dy, eos) already normalised (``jaxseq.data.iam``) with their
texts. Every batch has the same shapes (``max_len`` points, ``text_len`` characters), so the train step
compiles once.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import warnings
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data.batching import batch_indices
from jaxseq.data.charset import Charset, encode_batch
from jaxseq.data.iam import IamLines
from jaxseq.errors import DataError
from jaxseq.models.handwriting import model as hw
from jaxseq.paths import as_path
from jaxseq.training import loop
from jaxseq.training.checkpoint import Checkpointer
from jaxseq.training.schedules import teacher_forcing_prob

log = logging.getLogger(__name__)


def fit_lines(lines_strokes, texts, max_len, *, synthesis):
    """Indices of the lines the model trains on: synthesis keeps whole lines of at most ``max_len`` points
    (a cut line would no longer match its text); prediction keeps everything (long lines are cropped)."""
    lengths = np.array([len(s) for s in lines_strokes])
    keep = lengths >= 2
    if synthesis:
        keep &= (lengths <= max_len) & np.array([len(t) > 0 for t in texts], bool)
    return np.nonzero(keep)[0]


def make_batch(strokes, texts, idx, max_len, charset: Optional[Charset], text_len, rng=None):
    """Batch dict: strokes [B, max_len, 3], mask [B, max_len] and, with a charset, text [B, text_len]
    (-1 padded) and text_mask. Lines longer than ``max_len`` are cropped at a random (``rng``) or zero
    offset (prediction only; synthesis lines were filtered by :func:`fit_lines`)."""
    B = len(idx)
    out = np.zeros((B, max_len, 3), np.float32)
    mask = np.zeros((B, max_len), np.float32)
    for j, i in enumerate(idx):
        s = np.asarray(strokes[i], np.float32)
        if len(s) > max_len:
            off = int(rng.integers(0, len(s) - max_len + 1)) if rng is not None else 0
            s = s[off:off + max_len]
        out[j, :len(s)] = s
        mask[j, :len(s)] = 1.0
    batch = {"strokes": out, "mask": mask}
    if charset is not None:
        with warnings.catch_warnings():  # rare training characters are the unknown symbol on purpose
            warnings.simplefilter("ignore")
            batch["text"], batch["text_mask"] = encode_batch(charset, [texts[i] for i in idx], text_len)
    return batch


def oversample_rare(texts, pool, rare_count, repeat):
    """``pool`` with every line holding a character seen fewer than ``rare_count`` times in the pool's
    texts (digits, most capitals in IAM-OnDB) repeated ``repeat`` times in all: the rare characters get
    more gradient steps without new data. ``repeat`` <= 1 returns ``pool`` unchanged."""
    if repeat <= 1:
        return pool
    import collections
    counts = collections.Counter(c for i in pool for c in texts[i])
    rare = {c for c, n in counts.items() if n < rare_count}
    extra = [i for i in pool if rare & set(texts[i])]
    return np.concatenate([pool] + [np.asarray(extra, pool.dtype)] * (repeat - 1)) if extra else pool


def batch_fn_for(strokes, texts, pool, batch_size, max_len, charset, text_len, seed):
    """``batch_fn(step)`` over the line indices ``pool`` (deterministic in ``step``: resumable)."""
    def fn(step):
        sel = pool[batch_indices(step, len(pool), batch_size, seed)]
        return make_batch(strokes, texts, sel, max_len, charset, text_len,
                          rng=np.random.default_rng([seed, step]))
    return fn


def eval_batches(strokes, texts, pool, batch_size, max_len, charset, text_len, max_batches=None):
    """Fixed validation batches (the last partial batch is dropped to keep shapes static)."""
    n = len(pool) // batch_size
    if max_batches:
        n = min(n, max_batches)
    return [make_batch(strokes, texts, pool[k * batch_size:(k + 1) * batch_size], max_len, charset,
                       text_len) for k in range(n)]


def priming_lines(strokes, texts, writers, pool, n=8, max_points=350, min_points=80, decimals=3):
    """Up to ``n`` short real lines (different writers when possible) as JSON-able dicts for the
    checkpoint meta, so style priming works without the data set."""
    order = sorted(pool, key=lambda i: len(strokes[i]))
    out, seen, used = [], set(), set()
    for lo, hi in ((min_points, max_points), (2, max_points)):   # relax if too few lines qualify
        for i in order:
            L = len(strokes[i])
            w = writers[i] if writers is not None else i
            if len(out) == n or i in used or w in seen or not lo <= L <= hi or not texts[i].strip():
                continue
            seen.add(w)
            used.add(i)
            out.append({"text": texts[i], "writer": str(w),
                        "strokes": np.round(np.asarray(strokes[i], np.float64), decimals).tolist()})
    return out



# ------------------------------------------------------------------------------------- the run's data
def text_bucket(n, b=8):
    """Text length rounded up to a multiple of ``b`` (one compiled shape for similar data)."""
    return int(-(-n // b) * b)


def kappa_scale_from_data(lines: IamLines, pool):
    """The window should advance about one character per character's worth of points (eq 51):
    characters per point of the lines ``pool``."""
    L = np.mean([len(lines.strokes[i]) for i in pool])
    U = np.mean([len(lines.texts[i]) for i in pool])
    return float(U / L)


def pools(lines: IamLines, max_len, synthesis):
    """``(train, valid)`` line indices that fit ``max_len`` (see :func:`fit_lines`)."""
    out = []
    for pool in (np.nonzero(~np.asarray(lines.is_valid, bool))[0], np.nonzero(lines.is_valid)[0]):
        keep = fit_lines([lines.strokes[i] for i in pool], [lines.texts[i] for i in pool], max_len,
                         synthesis=synthesis)
        out.append(pool[keep])
    return tuple(out)


# --------------------------------------------------------------------------------- checkpoint meta
def make_meta(cfg: hw.HWConfig, scale, charset: Optional[Charset], text_len, primes, **extra):
    """Everything sampling needs beside the params: ``config`` (:class:`HWConfig` fields), ``scale``
    (offsets were divided by it), ``charset`` (JSON or None), ``text_len`` (the text bucket), ``primes``
    (real lines for style priming, see :func:`priming_lines`), plus ``extra`` (e.g. ``train``)."""
    return {"config": dataclasses.asdict(cfg), "scale": float(scale),
            "charset": charset.to_json() if charset else None, "text_len": int(text_len),
            "primes": primes, **extra}


def read_meta(meta):
    """``(HWConfig, Charset or None)`` from a checkpoint's meta (:func:`make_meta`)."""
    cfg = hw.HWConfig(**meta["config"])
    return cfg, (Charset.from_json(meta["charset"]) if meta.get("charset") else None)


# ------------------------------------------------------------------------------- continue from params
#: config fields that fix the params' shapes or meaning; a run initialised from a checkpoint must match
ARCH_FIELDS = ("task", "hidden", "layers", "n_mix", "n_gauss", "vocab", "kappa_scale")
#: the architecture of a fresh run; kappa_scale 0 means "from the data" (:func:`kappa_scale_from_data`)
ARCH_DEFAULTS = {**{f.name: f.default for f in dataclasses.fields(hw.HWConfig)}, "task": "synthesis",
                 "kappa_scale": 0.0, "unroll": 4}


def load_init_params(directory, step=None):
    """``(params float32, meta, step)`` from a checkpoint directory: an exported params-only one (e.g.
    ``ckpt/handwriting_synthesis``, maybe float16) or a training run (``step`` default: latest)."""
    if not as_path(directory).is_dir():
        raise DataError(f"{directory}: no checkpoint there to initialise from (export or train one)")
    ck = Checkpointer(directory, create=False)   # a source is only read
    try:
        step = ck.latest_step() if step is None else step
        if step is None:
            raise DataError(f"{directory}: no checkpoint there to initialise from (export or train one)")
        params, _, meta = ck.restore(step)
    finally:
        ck.close()
    params = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), params)
    return params, meta, int(step)


def check_init_compatible(src_config: dict, wanted: dict, params, params_like, source=""):
    """Raise ValueError naming every mismatch between the checkpoint's config and the run's ``wanted``
    fields (only those given), and between the loaded params' shapes and ``params_like``'s."""
    diffs = [f"{k}: checkpoint has {src_config.get(k)!r}, this run asks for {v!r}"
             for k, v in wanted.items() if k in ARCH_FIELDS and src_config.get(k) != v]
    got = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)), params)
    want = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)), params_like)
    if not diffs and got != want:
        diffs.append(f"parameter shapes differ: checkpoint {got} vs model {want}")
    if diffs:
        raise ValueError(f"cannot initialise from {source}: " + "; ".join(diffs) +
                         ". Leave these at their defaults (the architecture comes from the checkpoint).")


def init_source(directory, arch: dict, scale):
    """``(params, meta, step)`` of a checkpoint to start a new run from, after checking that it fits:
    the task, and every architecture field of ``arch`` set away from :data:`ARCH_DEFAULTS`, must match
    its config, and it must have been trained on the same data ``scale``."""
    params, meta, step = load_init_params(directory)
    wanted = {k: v for k, v in arch.items()
              if k in ARCH_FIELDS and (k == "task" or v != ARCH_DEFAULTS.get(k))}
    check_init_compatible(meta["config"], wanted, params, params, directory)
    if not np.isclose(meta.get("scale", scale), scale, rtol=1e-6):
        raise DataError(f"{directory} was trained on offsets divided by scale {meta['scale']:.6g}, but "
                        f"this data's scale is {scale:.6g} (another cache or preprocessing?); continue "
                        f"on the same data")
    return params, meta, step


# -------------------------------------------------------------------------------------------- train
@dataclasses.dataclass
class TrainSettings:
    steps: int = 6000               # total optimizer steps (sets the lr schedule)
    batch_size: int = 64            # lines per step
    lr: float = 1e-3                # peak learning rate
    schedule: str = "cosine"        # lr after warmup (decays to lr/10): constant | cosine | exponential
    warmup: int = 200               # linear lr warmup steps
    optimizer: str = "adam"         # Graves used RMSProp; Adam learns faster on a short budget
    clip: float = 3.0               # global gradient-norm clip (Graves clipped derivatives instead)
    max_len: int = 600              # points per line: synthesis skips longer lines, prediction crops
    min_char_count: int = 20        # rarer training characters map to the unknown symbol
    rare_repeat: int = 1            # lines holding a character rarer than rare_count: this many copies
    rare_count: int = 300           # "rare" for rare_repeat (IAM-OnDB: every digit, most capitals)
    weight_noise: float = 0.0       # std of Gaussian noise on every weight matrix per step (0: off)
    scheduled_sampling: str = "none"  # none | linear | exponential | inverse_sigmoid (Bengio et al.)
    ss_k: float = 2000.0            # scheduled-sampling schedule k
    ss_c: float = 1e-4              # scheduled-sampling schedule c (linear)
    ss_min: float = 0.75            # lowest teacher-forcing probability
    eval_every: int = 500           # validate and write samples every N steps
    eval_batches: int = 8           # validation batches per evaluation
    ckpt_every: int = 1000          # checkpoint every N steps
    log_every: int = 50             # average train metrics over N steps
    samples: int = 4                # lines sampled into <run>/samples/ at each evaluation (0: none)
    seed: int = 0                   # init, batches and sampling
    progress: bool = True           # progress bar (else log lines)

    def train_config(self) -> loop.TrainConfig:
        return loop.TrainConfig(steps=self.steps, lr=self.lr, schedule=self.schedule, warmup=self.warmup,
                                 min_lr=self.lr * 0.1, clip_norm=self.clip, optimizer=self.optimizer,
                                 seed=self.seed, log_every=self.log_every, eval_every=self.eval_every,
                                 ckpt_every=self.ckpt_every, keep=2, progress=self.progress)

    def eps_fn(self):
        """Teacher-forcing probability ``eps(step)`` for :func:`hw.make_loss`, or None."""
        if self.scheduled_sampling == "none":
            return None
        return functools.partial(teacher_forcing_prob, kind=self.scheduled_sampling, k=self.ss_k,
                                 c=self.ss_c, eps_min=self.ss_min)


SAMPLE_TEXTS = ["hello world", "a quick brown fox", "handwriting in jax", "sequence generation"]


def train(arch: dict, settings: TrainSettings, lines: IamLines, ckpt_dir, *, init_from=None,
          time_budget_s=None, info=None):
    """Train (or resume: ``ckpt_dir`` holding a run wins over everything else) a handwriting network.

    ``arch``: :class:`HWConfig` fields without ``vocab`` (the charset sets it; ``kappa_scale`` 0: from
    the data). ``init_from``: a checkpoint whose params start a new run (fresh optimizer, step 0; the
    architecture, charset and kappa scale come from it, see :func:`init_source`). Returns
    ``(params, history, cfg)``.
    """
    synthesis = arch.get("task", ARCH_DEFAULTS["task"]) == "synthesis"
    train_pool, val_pool = pools(lines, settings.max_len, synthesis)
    if len(val_pool) == 0:
        raise DataError(f"{lines.info.get('cache', 'these lines')}: no validation line fits max_len "
                        f"{settings.max_len} ({int(np.sum(lines.is_valid))} validation lines in all); training "
                        f"needs some for validation, the best step and style priming: rebuild the cache with "
                        f"valid_fraction > 0 or raise max_len")
    if len(train_pool) < settings.batch_size:
        raise DataError(f"only {len(train_pool)} training lines fit max_len {settings.max_len}; raise "
                        f"max_len or lower the batch size ({settings.batch_size})")
    ckpt_dir = as_path(ckpt_dir)   # gs://bucket/run stays a URI
    ck = Checkpointer(ckpt_dir, keep=2, best_metric="val_nll_point")
    old = ck.read_meta() if ck.latest_step() is not None else None
    init = None
    if init_from and old:
        log.info("%s already holds a run: resuming it (init_from only seeds a new run)", ckpt_dir)
    elif init_from:
        init = init_source(init_from, arch, lines.scale)
    src = old or (init[1] if init else None)   # charset and config come from here when set
    charset, text_len = None, 0
    if synthesis:
        charset = (Charset.from_json(src["charset"]) if src else
                   Charset.build([lines.texts[i] for i in train_pool], min_count=settings.min_char_count))
        both = np.concatenate([train_pool, val_pool])
        text_len = text_bucket(max(len(lines.texts[i]) for i in both) + 1)
    if old:
        cfg = hw.HWConfig(**old["config"])
    elif init:  # architecture from the checkpoint; unroll and bf16 are speed settings of this run
        cfg = hw.HWConfig(**{**init[1]["config"], "unroll": arch.get("unroll", 1),
                             "bf16": arch.get("bf16", False)})
    else:
        kappa = arch.get("kappa_scale") or kappa_scale_from_data(lines, train_pool)
        cfg = hw.HWConfig(**{**arch, "vocab": charset.size if synthesis else 0, "kappa_scale": kappa})
    log.info("%s: %d train / %d valid lines, max_len %d, text bucket %d, %s", cfg.task, len(train_pool),
             len(val_pool), settings.max_len, text_len, cfg)
    params = hw.init(jax.random.PRNGKey(settings.seed), cfg)
    if init:
        check_init_compatible(init[1]["config"], {}, init[0], params, init_from)
        params = jax.tree_util.tree_map(jnp.asarray, init[0])
        log.info("initialised from %s (step %d); fresh optimizer, step 0", init_from, init[2])
    log.info("%s parameters", f"{sum(x.size for x in jax.tree_util.tree_leaves(params)):,}")

    S, T = settings, (lines.strokes, lines.texts)
    train_lines = oversample_rare(lines.texts, train_pool, S.rare_count, S.rare_repeat)
    if len(train_lines) > len(train_pool):
        log.info("rare characters: %d lines repeated %dx (%d in the pool)",
                 (len(train_lines) - len(train_pool)) // (S.rare_repeat - 1), S.rare_repeat, len(train_lines))
    batch_fn = batch_fn_for(*T, train_lines, S.batch_size, S.max_len, charset, text_len, S.seed)
    vb = eval_batches(*T, val_pool, S.batch_size, S.max_len, charset, text_len, max_batches=S.eval_batches)
    eval_step = loop.make_eval_step(hw.make_loss(cfg))

    def eval_fn(params, step):
        return loop.evaluate(eval_step, params, vb, jax.random.PRNGKey(0))

    def sample_fn(params, step):
        from jaxseq.models.handwriting.sample import generate
        from jaxseq.viz.strokes import plot_grid
        texts = (([lines.texts[i] for i in val_pool[:4]] if lines.info.get("synthetic") else SAMPLE_TEXTS)
                 if synthesis else [""] * 4)
        texts = [texts[i % len(texts)] for i in range(S.samples)]
        out, _ = generate(params, cfg, charset, texts, seed=step, bias=0.5,
                          max_steps=None if synthesis else 500)   # on every process
        if not loop.is_main_process():   # process 0 alone writes the grid
            return
        path = plot_grid(ckpt_dir / "samples" / f"step_{step:06d}.png", out, texts, ncols=1,
                         cell=(8.0, 1.6))
        log.info("samples: %s", path)

    primes = priming_lines(*T, lines.writers, val_pool, n=8)
    extra = {"train": {**dataclasses.asdict(S), **(info or {})}}
    if init or (old and old.get("init_from")):
        extra["init_from"] = {"dir": str(init_from), "step": init[2]} if init else old["init_from"]
    meta = make_meta(cfg, lines.scale, charset, text_len, primes, **extra)
    try:
        params, hist = loop.fit(hw.make_loss(cfg, S.eps_fn(), S.weight_noise), params, batch_fn,
                                 S.train_config(),
                                 eval_fn=eval_fn if vb else None, sample_fn=sample_fn if S.samples else None,
                                 ckpt=ck, meta=meta, time_budget_s=time_budget_s)
    finally:
        ck.close()
    return params, hist, cfg


# --------------------------------------------------------------------------------------------- eval
def validation_setup(cfg: hw.HWConfig, meta, lines: IamLines, max_len=0):
    """``(pool, max_len, text_len)`` for the validation lines that fit ``max_len`` (0: as trained)."""
    max_len = max_len or meta.get("train", {}).get("max_len", 600)
    pool = pools(lines, max_len, cfg.synthesis)[1]
    if len(pool) == 0:
        raise DataError(f"no validation line fits max_len {max_len}")
    text_len = meta.get("text_len") or 0
    if cfg.synthesis:
        text_len = max(text_len, text_bucket(max(len(lines.texts[i]) for i in pool) + 1))
    return pool, max_len, text_len


def evaluate(params, cfg: hw.HWConfig, charset, meta, lines: IamLines, *, batch_size=64, max_len=0):
    """Validation NLL: ``(metrics {nll_line, nll_point}, n_lines, max_len)`` over whole batches."""
    pool, max_len, text_len = validation_setup(cfg, meta, lines, max_len)
    vb = eval_batches(lines.strokes, lines.texts, pool, batch_size, max_len, charset, text_len)
    if not vb:
        raise DataError(f"{len(pool)} validation lines make no whole batch of {batch_size}")
    m = loop.evaluate(loop.make_eval_step(hw.make_loss(cfg)), params, vb, jax.random.PRNGKey(0))
    return {k: float(v) for k, v in m.items()}, len(vb) * batch_size, max_len
