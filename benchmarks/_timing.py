"""What the speed benchmarks share: the timing loop (warm-up, then the median of timed repetitions), a
jitted JAX train step driven for a timed repetition, the PyTorch peers' setup (TF32 allowed as JAX's
GPU default, seeded, a device sync) and the JSON results file. The scripts import it as a sibling module
(``python benchmarks/X.py`` puts ``benchmarks/`` on ``sys.path``); torch is imported only by
:func:`torch_setup`, inside the PyTorch rows.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path


def timings(fn, reps, warmup=2):
    """Seconds of each of ``reps`` calls of ``fn()`` after ``warmup`` untimed calls (``fn`` must wait
    for its device work itself)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return ts


def timeit(fn, reps, warmup=2):
    """The median seconds of ``fn()`` over ``reps`` timed calls, after ``warmup`` untimed ones."""
    return statistics.median(timings(fn, reps, warmup))


def train_steps(step, params, opt_state, batches, key=None, fold_key=False):
    """``(run, state)``: ``run()`` makes one call of a jitted train step ``step(params, opt_state, batch,
    key, step)`` (:func:`jaxseq.training.loop.make_train_step`) per batch of ``batches`` (a fixed batch
    ``n`` times: ``[batch] * n``), threading params and optimizer state through ``state["p"]`` and
    ``state["s"]``, then waits for the last loss. The key is ``key`` (default ``PRNGKey(1)``; with
    ``fold_key``, folded with the call's index), the step 0."""
    import jax
    import jax.numpy as jnp
    key = jax.random.PRNGKey(1) if key is None else key
    step0 = jnp.int32(0)
    state = {"p": params, "s": opt_state}

    def run():
        for i, b in enumerate(batches):
            state["p"], state["s"], m = step(state["p"], state["s"], b,
                                             jax.random.fold_in(key, i) if fold_key else key, step0)
        jax.block_until_ready(m["loss"])
    return run, state


def torch_setup(device, seed=0):
    """``(torch, sync)`` for a PyTorch peer on ``device``: TF32 matmuls and convolutions allowed (JAX's
    GPU default), ``torch.manual_seed(seed)`` (``None``: not seeded here), and ``sync()`` waiting for the
    GPU (a no-op on the CPU)."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if seed is not None:
        torch.manual_seed(seed)
    sync = (lambda: torch.cuda.synchronize()) if str(device).startswith("cuda") else (lambda: None)
    return torch, sync


def write_json(path, obj):
    """``obj`` as indented JSON at ``path`` (its folder created). -> the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))
    return path
