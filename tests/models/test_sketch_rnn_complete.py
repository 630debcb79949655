"""Sketch-RNN completion of a started drawing (SketchRNN.complete / sample.complete) on a tiny model."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.data.sketches import END, START
from jaxseq.models.sketch_rnn import model as sr
from jaxseq.models.sketch_rnn import sample as ss
from jaxseq.models.sketch_rnn.api import SketchRNN

CFG = sr.SketchConfig(enc_size=8, dec_size=16, z_size=4, n_mix=3, max_len=24)


@pytest.fixture(scope="module")
def model():
    return SketchRNN(sr.init(jax.random.PRNGKey(0), CFG), CFG, 2.0, {"min_len": 3})


def test_an_empty_prefix_is_plain_sampling():
    """With nothing read (prefix_len 0) the completion loop is the sampler: same keys, same z, same rows."""
    params = sr.init(jax.random.PRNGKey(0), CFG)
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    z = jax.random.normal(jax.random.PRNGKey(2), (3, CFG.z_size))
    rows = jnp.asarray(np.concatenate([START[None], np.tile(END, (CFG.max_len, 1))]))
    got = ss._complete(params, CFG, keys, z, rows, jnp.int32(0), jnp.float32(0.5), CFG.max_len, jnp.int32(2))
    want = ss._sample(params, CFG, keys, z, jnp.float32(0.5), CFG.max_len, jnp.int32(2))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)


def test_the_decoder_state_after_the_prefix_is_teacher_forced():
    """The carry the completion starts from is the decoder run over start + prefix (masked padding)."""
    params = sr.init(jax.random.PRNGKey(0), CFG)
    prefix = np.array([[1, 2, 0], [3, -1, 1], [2, 2, 0]], np.float32)
    s5 = np.concatenate([START[None], ss.to_stroke5(prefix, CFG.max_len)])
    z = jax.random.normal(jax.random.PRNGKey(3), (1, CFG.z_size))
    from jaxseq.nn.cells import LSTM
    carry = sr.initial_state(params, CFG, z, 1)
    for t in range(len(prefix)):                 # step by step over start, p1, p2 (p3 is the next input)
        x = sr.decoder_inputs(CFG, jnp.asarray(s5[None, t:t + 1]), z)[:, 0]
        carry, _ = LSTM.step(params["dec"], carry, x)
    x = sr.decoder_inputs(CFG, jnp.asarray(s5[None, :-1]), z)
    mask = (jnp.arange(CFG.max_len) < len(prefix))[None]
    from jaxseq.nn import scan
    _, masked = scan.run(LSTM, params["dec"], x, mask=mask, carry=sr.initial_state(params, CFG, z, 1))
    np.testing.assert_allclose(np.asarray(masked[0]), np.asarray(carry[0]), atol=1e-5)


def test_complete_keeps_the_prefix_and_varies(model):
    prefix = np.array([[0, 0, 0], [4, 2, 0], [2, -4, 1], [-6, 0, 0]], np.float32)
    out = model.complete(prefix, 3, seed=0)
    assert len(out) == 3
    for d in out:
        np.testing.assert_array_equal(d[:len(prefix)], prefix)
        assert d.shape[1] == 3 and len(d) <= CFG.max_len
    again = model.complete(prefix, 3, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(out, again))
    assert not all(np.array_equal(out[0], d) for d in out[1:])


def test_complete_refuses_bad_prefixes(model):
    with pytest.raises(ValueError, match="at most 23"):
        model.complete(np.zeros((CFG.max_len, 3), np.float32))
    with pytest.raises(ValueError, match="empty"):
        model.complete(np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match="n 0"):
        model.complete(np.ones((3, 3), np.float32), 0)
