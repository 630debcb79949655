"""The scheduled-sampling mix: truth with probability eps, the model's sample otherwise."""
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.nn.teacher_forcing import mix


def test_mix_extremes_and_rate():
    truth = {"a": jnp.arange(1000), "b": jnp.ones((1000, 2))}
    samp = {"a": -jnp.arange(1000) - 1, "b": jnp.zeros((1000, 2))}
    key = jax.random.PRNGKey(0)
    t = mix(key, 1.0, truth, samp)
    assert (t["a"] == truth["a"]).all() and (t["b"] == 1).all()
    s = mix(key, 0.0, truth, samp)
    assert (s["a"] == samp["a"]).all() and (s["b"] == 0).all()
    m = mix(key, 0.3, truth, samp)
    frac = float((m["a"] >= 0).mean())
    assert abs(frac - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 1000)
    assert ((m["a"] >= 0) == (m["b"][:, 0] == 1)).all()       # one coin per sequence for the pytree
    per = mix(key, jnp.array([1.0, 0.0] * 500), truth, samp)    # per-sequence eps
    assert (per["a"][::2] >= 0).all() and (per["a"][1::2] < 0).all()


