"""Multi-host data parallelism: two jax.distributed CPU processes with two devices each train exactly
like one process with four devices (the global batch is the concatenation of each host's rows)."""
import ast
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).parent / "helpers" / "multihost_worker.py"


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _losses(out):
    line = [l for l in out.splitlines() if l.startswith("RESULT")][0]
    return ast.literal_eval(line.split(" ", 3)[3])


def _env(devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = str(Path(__file__).parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_two_processes_match_one_process():
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(i), "2", port], env=_env(2),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    try:
        outs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    if any(p.returncode for p in procs):
        if any("gloo" in o.lower() and "not" in o.lower() and "support" in o.lower() for o in outs):
            pytest.skip("this jaxlib has no CPU (gloo) collectives")
        raise AssertionError("\n".join(o[-2000:] for o in outs))
    single = subprocess.run([sys.executable, str(WORKER), "0", "1", "0"], env=_env(4),
                            capture_output=True, text=True, timeout=240)
    assert single.returncode == 0, single.stderr[-2000:]
    assert "RESULT 0 4 " in outs[0] and "RESULT 1 4 " in outs[1]   # 4 global devices each
    assert _losses(outs[0]) == _losses(outs[1])                    # every host sees the same loss
    assert _losses(outs[0]) == pytest.approx(_losses(single.stdout), abs=1e-5)
