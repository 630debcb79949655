"""A jax.distributed job of several local CPU processes, for the multi-host tests: free port, the
environment (JAX_* variables for ``maybe_initialize_distributed``, simulated devices), run and collect."""
from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def cpu_env(devices, **extra):
    """This environment on the CPU with ``devices`` simulated devices, the repo importable, no
    inherited JAX_* job variables; ``extra`` adds variables."""
    env = {k: v for k, v in os.environ.items() if k not in
           ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "JAXSEQ_DEBUG")}
    env.update(JAX_PLATFORMS="cpu", MPLBACKEND="Agg",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", **extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_job(argv, n=2, devices=2, timeout=240):
    """Run ``argv(process_id, port)`` as ``n`` processes of one job (the JAX_* variables are set too);
    returns their outputs (stdout + stderr). Skips where jaxlib has no CPU collectives."""
    port = free_port()
    procs = [subprocess.Popen(argv(i, port), cwd=ROOT, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              env=cpu_env(devices, JAX_COORDINATOR_ADDRESS=f"localhost:{port}",
                                          JAX_NUM_PROCESSES=str(n), JAX_PROCESS_ID=str(i)))
             for i in range(n)]
    try:
        outs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    if any(p.returncode for p in procs):
        if any(re.search(r"gloo[^\n]*not (supported|available)|without gloo", o, re.I) for o in outs):
            pytest.skip("this jaxlib has no CPU (gloo) collectives")
        raise AssertionError("\n".join(o[-3000:] for o in outs))
    return outs
