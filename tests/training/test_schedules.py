"""Schedules over the step: teacher-forcing probability (Bengio et al. 2015) and KL annealing."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.training.schedules import kl_anneal, teacher_forcing_prob


def test_schedule_values():
    f = lambda *a, **k: float(teacher_forcing_prob(*a, **k))
    assert f(0, "linear", k=1.0, c=0.01) == 1.0
    assert f(30, "linear", k=1.0, c=0.01) == pytest.approx(0.7)
    assert f(500, "linear", k=1.0, c=0.01, eps_min=0.2) == pytest.approx(0.2)   # floor
    assert f(10, "exponential", k=0.9) == pytest.approx(0.9 ** 10, rel=1e-5)
    k = 100.0
    for s in (0, 250, 460, 1000):
        assert f(s, "inverse_sigmoid", k=k) == pytest.approx(k / (k + math.exp(s / k)), rel=1e-5)
    assert f(10 ** 7, "inverse_sigmoid", k=k) == pytest.approx(0.0, abs=1e-6)    # no overflow to nan
    assert f(123, "constant", k=0.25) == 0.25
    assert f(2000, "linear") == pytest.approx(1 - 2000 * 1e-4)           # per-schedule default k
    assert f(100, "exponential") == pytest.approx(0.999 ** 100, rel=1e-5)
    with pytest.raises(ValueError, match="unknown schedule"):
        teacher_forcing_prob(0, "cosine")


def test_schedules_monotone_and_jittable():
    steps = jnp.arange(0, 5000, 50)
    for kind, k in (("linear", 1.0), ("exponential", 0.999), ("inverse_sigmoid", 300.0)):
        e = jax.jit(lambda s: teacher_forcing_prob(s, kind, k=k, c=2e-4))(steps)
        assert np.all(np.diff(np.asarray(e)) <= 1e-7) and float(e.max()) <= 1 and float(e.min()) >= 0


def test_kl_anneal_matches_the_formula():
    decay = float(np.float32(0.99995))          # the rate as float32 holds it (pow amplifies its rounding)
    for step in (0, 1, 100, 10_000):
        want = 1.0 - (1.0 - 0.01) * decay ** step
        assert math.isclose(float(kl_anneal(step, 0.01, 0.99995)), want, rel_tol=1e-5)
    assert float(jax.jit(kl_anneal)(jnp.int32(0), 0.01, 0.99995)) == pytest.approx(0.01)
