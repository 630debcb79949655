"""What the convolutional GANs (DCGAN, BEGAN) share: the image data at a given side, the fixed-noise
snapshots taken during training and their progression figure, and the generator-only export that ships.

Images here are uint8 NHWC ``[N, size, size, C]`` on the host; the networks see ``to_signed`` floats in
[-1, 1]. Fashion-MNIST's 28x28 images are padded with black to ``size`` (32); CelebA faces are
centre-cropped and resized by :mod:`jaxseq.data.celeba` (not available here).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from jaxseq.data import celeba, mnist
from jaxseq.data import images as im
from jaxseq.data.batching import batch_indices
from jaxseq.data.files import check_output_dir
from jaxseq.errors import DataError
from jaxseq.training.checkpoint import Checkpointer, cast_floats, load_for_sampling
from jaxseq.viz.images import save_grid, save_progression

DATA = {"fashion-mnist": 1, "celeba": 3}   # data set -> channels


def load_images(data, size, split="train", data_dir=None, limit=None):
    """uint8 ``[N, size, size, C]`` of ``split`` ("train" or "test") of ``data`` (see :data:`DATA`)."""
    if data == "fashion-mnist":
        x, _ = mnist.load_images("fashion-mnist", split, data_dir)
        x = im.to_nhwc(x[:limit])
        return im.pad_to(x, size) if size >= x.shape[1] else im.center_crop(x, size)
    if data == "celeba":
        return celeba.load(split, size, data_dir, limit=limit)
    raise ValueError(f"data = {data!r}: choose one of {sorted(DATA)}")


def batch_of(images, idx):
    """float32 [-1, 1] batch of the uint8 images at ``idx``."""
    return im.to_signed(images[idx])


def sample_batches(generate, noise, n, seed=0, batch=500):
    """``n`` generated images (numpy): ``generate(z)`` on noise batches ``noise(key, size)`` of ``size =
    min(batch, n)`` (one shape, one compilation; the surplus of the last batch is dropped), keys folded
    from ``PRNGKey(seed)``: the same seed gives the same images."""
    if n < 1:
        raise ValueError(f"n = {n}: give at least 1 image")
    key, size = jax.random.PRNGKey(seed), min(batch, n)
    out = [np.asarray(generate(noise(jax.random.fold_in(key, i // batch), size))) for i in range(0, n, batch)]
    return np.concatenate(out)[:n]


def snapshot_hook(run_dir, generate, z_fixed, ncols=8):
    """``on_sample(params, step)``: the generator's images of the fixed noise ``z_fixed`` saved as
    ``<run_dir>/fixed/step_NNNNNNN.png`` (a grid) and ``.npy`` (uint8, for the progression figure)."""
    out = Path(run_dir) / "fixed"

    def on_sample(params, step):
        x = np.asarray(im.from_signed(generate(params, z_fixed)))
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / f"step_{step:07d}.npy", im.to_uint8(x))
        save_grid(out / f"step_{step:07d}.png", x, ncols=ncols)
    return on_sample


def progression(run_dir, path, rows=6, cols=10, title=None, steps=None):
    """The fixed noise at ``rows`` evenly spaced snapshot steps (first and last included), or at the
    snapshots nearest to ``steps``, ``cols`` images each, one labelled row per step. Returns the steps
    drawn."""
    files = sorted((Path(run_dir) / "fixed").glob("step_*.npy"))
    if not files:
        raise DataError(f"{run_dir}/fixed holds no snapshots (step_*.npy); train with sample_every > 0")
    have = np.array([int(f.stem.split("_")[1]) for f in files])
    if steps is None:
        pick = sorted({int(round(i)) for i in np.linspace(0, len(files) - 1, min(rows, len(files)))})
    else:
        pick = sorted({int(np.abs(have - s).argmin()) for s in steps})
    imgs = [im.to_unit(np.load(files[i])[:cols]) for i in pick]
    save_progression(path, imgs, [f"step {have[i]:,}" for i in pick], title=title)
    return [int(have[i]) for i in pick]


def export_generator(src, dst, keys, dtype="bfloat16", step=None):
    """A sampling-only checkpoint in ``dst``: the ``keys`` of the run's params (the generator, and its
    batch-norm state for DCGAN) at ``step`` (default: latest), floats stored as ``dtype``, with the meta.
    Returns ``(step, size in bytes)``."""
    params, meta = load_for_sampling(src, step, dtype=None)
    missing = [k for k in keys if k not in params]
    if missing:
        raise DataError(f"{src} holds no {missing} arrays; give a training run of this model")
    held = Checkpointer(dst, create=False) if Path(dst).is_dir() else None
    if held is not None:
        last = held.latest_step()
        held.close()
        if last is not None:
            raise DataError(f"{dst} already holds a checkpoint (step {last}); export to an empty directory")
    meta = {k: v for k, v in meta.items() if k not in ("hashes", "checkpoint")}
    meta["param_dtype"] = dtype
    ck = Checkpointer(dst, keep=1)
    try:
        ck.save(meta["step"], cast_floats({k: params[k] for k in keys}, dtype), None, meta=meta)
    finally:
        ck.close()
    size = sum(f.stat().st_size for f in Path(dst).rglob("*") if f.is_file())
    return int(meta["step"]), size


def check_config(cfg):
    """The checks every GAN training config shares (``data``, counts, ``lr``, ``beta1``); ValueErrors
    name the field."""
    if cfg.data not in DATA:
        raise ValueError(f"data = {cfg.data!r}: choose one of {sorted(DATA)}")
    for name in ("steps", "batch_size", "n_fixed", "log_every"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} = {getattr(cfg, name)}: must be at least 1")
    if cfg.sample_every < 0:
        raise ValueError(f"sample_every = {cfg.sample_every}: give 0 or a positive count")
    if not cfg.lr > 0:
        raise ValueError(f"lr = {cfg.lr}: the learning rate must be > 0")
    if not 0 <= cfg.beta1 < 1:
        raise ValueError(f"beta1 = {cfg.beta1}: give a value in [0, 1)")


def train_run(cfg, family, images, ckpt_dir, *, step_fn, state, generate, z_fixed, meta=None,
              time_budget_s=None, progress=True, log=None):
    """Check the images against ``cfg.model_config()``, then :func:`jaxseq.models.dcgan.loop.run` in
    ``ckpt_dir`` with fixed-noise snapshots; the meta records ``config`` and ``<family>`` (the model
    config). Returns ``(params, history)``."""
    from jaxseq.models.dcgan import loop
    mcfg = cfg.model_config()
    want = (mcfg.size, mcfg.size, mcfg.channels)
    if tuple(images.shape[1:]) != want:
        raise ValueError(f"images of shape {tuple(images.shape[1:])}, the model wants {want}")
    ckpt_dir = check_output_dir(ckpt_dir)
    ckpt = Checkpointer(ckpt_dir, keep=1)
    meta = {**(meta or {}), "config": dataclasses.asdict(cfg), family: dataclasses.asdict(mcfg)}
    try:
        if ckpt.latest_step() is not None:
            require_family(ckpt_dir, ckpt.read_meta(), family)

        def batch_fn(step):
            return batch_of(images, batch_indices(step, len(images), cfg.batch_size, cfg.seed))

        return loop.run(step_fn, state, batch_fn, steps=cfg.steps, ckpt=ckpt, meta=meta,
                        train_cfg={k: getattr(cfg, k) for k in ("steps", "lr", "batch_size", "seed")},
                        seed=cfg.seed, log_every=cfg.log_every, sample_every=cfg.sample_every,
                        on_sample=snapshot_hook(ckpt_dir, generate, z_fixed), time_budget_s=time_budget_s,
                        progress=progress, log=log)
    finally:
        ckpt.close()


def require_family(directory, meta, family):
    """DataError unless ``meta`` is a checkpoint of ``family`` ("dcgan" or "began")."""
    if not (isinstance(meta, dict) and isinstance(meta.get(family), dict)):
        raise DataError(f"{directory} is not a {family.upper()} checkpoint; give a run of "
                        f"experiments/{family}.py" + (" or ckpt/dcgan/<data>" if family == "dcgan" else ""))
