"""jaxseq.search on hand-made step functions with known answers (no model)."""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq import search

PAD, SOS, EOS = 0, 1, 2
NEG = -30.0


def _table_step(table):
    """A step function whose next-token log-probabilities depend only on the previous token:
    state = nothing but a step counter; logits = table[token]."""
    table = jnp.asarray(table, jnp.float32)

    def step(state, token):
        return state + 1, table[token]
    return step


def _logp(rows):
    """rows: {token: {next: prob}} -> a [V, V] log-probability table (unlisted moves ~impossible)."""
    V = 6
    t = np.full((V, V), NEG, np.float32)
    for a, nxt in rows.items():
        for b, p in nxt.items():
            t[a, b] = np.log(p)
    return t


@partial(jax.jit, static_argnames=("step", "B", "T"))
def _greedy(step, B, T):
    return search.greedy(step, jnp.zeros((B,), jnp.int32), B, T, SOS, EOS, PAD)


@partial(jax.jit, static_argnames=("step", "B", "T", "beam"))
def _beam(step, B, T, beam, alpha):
    return search.beam_search(step, jnp.zeros((B,), jnp.int32), B, T, beam, alpha, SOS, EOS, PAD)


def test_greedy_picks_the_argmax_then_pads():
    step = _table_step(_logp({SOS: {3: 0.6, 4: 0.4}, 3: {4: 0.7, EOS: 0.3}, 4: {EOS: 0.9, 5: 0.1}}))
    toks, score = _greedy(step, 2, 5)
    np.testing.assert_array_equal(toks, [[3, 4, EOS, PAD, PAD]] * 2)
    np.testing.assert_allclose(score, [np.log(0.6 * 0.7 * 0.9)] * 2, rtol=1e-5)


def test_beam_finds_what_greedy_misses():
    # greedy takes 3 (0.6) and then must pay 0.3 for any continuation: 0.18 in total; the 4 branch
    # (0.4) ends with certainty: 0.4. A beam of 2 keeps both and returns 4 <eos>.
    step = _table_step(_logp({SOS: {3: 0.6, 4: 0.4}, 3: {5: 0.3, EOS: 0.3, 3: 0.4 - 1e-6}, 4: {EOS: 1.0},
                              5: {EOS: 1.0}}))
    g, g_score = _greedy(step, 1, 4)
    assert g[0, 0] == 3 and float(g_score[0]) < np.log(0.25)
    b, b_score = _beam(step, 1, 4, 2, 0.0)
    np.testing.assert_array_equal(b, [[4, EOS, PAD, PAD]])
    np.testing.assert_allclose(b_score, [np.log(0.4)], rtol=1e-5)


def test_beam_one_alpha_zero_equals_greedy():
    rng = np.random.default_rng(0)
    table = np.log(rng.dirichlet(np.ones(6) * 0.5, size=6)).astype(np.float32)
    step = _table_step(table)
    g, g_score = _greedy(step, 3, 7)
    b, b_score = _beam(step, 3, 7, 1, 0.0)
    np.testing.assert_array_equal(g, b)
    np.testing.assert_allclose(g_score, b_score, rtol=1e-5)


def test_length_normalisation():
    # short: 3 <eos>, p = 0.55 (2 tokens with <eos>); long: 4 5 <eos>, p = 0.45 (3 tokens).
    # alpha=0 ranks by total log p: short (-0.598 > -0.799). alpha=1 by log p per token: long
    # (-0.799 / 3 = -0.266 > -0.598 / 2 = -0.299).
    step = _table_step(_logp({SOS: {3: 0.55, 4: 0.45}, 3: {EOS: 1.0}, 4: {5: 1.0}, 5: {EOS: 1.0}}))
    raw, raw_score = _beam(step, 1, 5, 2, 0.0)
    np.testing.assert_array_equal(raw, [[3, EOS, PAD, PAD, PAD]])
    np.testing.assert_allclose(raw_score, [np.log(0.55)], rtol=1e-4)
    norm, norm_score = _beam(step, 1, 5, 2, 1.0)
    np.testing.assert_array_equal(norm, [[4, 5, EOS, PAD, PAD]])
    np.testing.assert_allclose(norm_score, [np.log(0.45) / 3], rtol=1e-4)
    # alpha=0.5 divides by sqrt(length)
    _, half = _beam(step, 1, 5, 2, 0.5)
    np.testing.assert_allclose(half, [max(np.log(0.55) / 2 ** 0.5, np.log(0.45) / 3 ** 0.5)], rtol=1e-4)


def test_expand_and_gather_keep_rows_of_one_batch_element_together():
    tree = {"a": jnp.arange(3)[:, None] * jnp.ones((3, 2))}
    ex = search.expand_beams(tree, 2)["a"][:, 0]
    np.testing.assert_array_equal(ex, [0, 0, 1, 1, 2, 2])
    assert search.strip([5, 6, EOS, 7], EOS, PAD) == [5, 6] and search.strip([5, PAD], EOS, PAD) == [5]


def test_non_positive_sizes_are_refused_before_tracing():
    step = _table_step(_logp({SOS: {3: 1.0}, 3: {EOS: 1.0}}))
    state = jnp.zeros((2,), jnp.int32)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match=f"max_len {bad!r}"):
            search.greedy(step, state, 2, bad, SOS, EOS, PAD)
        with pytest.raises(ValueError, match=f"beam {bad!r}"):
            search.beam_search(step, state, 2, 4, bad, 1.0, SOS, EOS, PAD)
