"""Luong scores and masked attention vs numpy; the Graves window vs numpy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_grad_close, random_params
from jaxseq.nn import attention

B, S, HD, HE = 3, 6, 4, 4
LENGTHS = np.array([6, 3, 1])


def setup(score, seed=0, he=HE):
    rng = np.random.default_rng(seed)
    p = random_params(lambda k, *a: attention.luong_init(k, score, *a), HD, he, seed=seed)
    h = rng.normal(size=(B, HD)).astype(np.float32)
    enc = rng.normal(size=(B, S, he)).astype(np.float32)
    mask = (np.arange(S)[None] < LENGTHS[:, None]).astype(np.float32)
    return p, h, enc, mask


def np_scores(p, score, h, enc):
    h, enc = np.float64(h), np.float64(enc)
    if score == "dot":
        return np.einsum("bh,bsh->bs", h, enc)
    if score == "general":   # h^T W_a h_s
        return np.einsum("bd,de,bse->bs", h, np.float64(p["w"]), enc)
    # concat: v^T tanh(W_a [h_t; h_s])
    cat = np.concatenate([np.broadcast_to(h[:, None], (B, S, h.shape[-1])), enc], -1)
    return np.tanh(cat @ np.float64(p["w"])) @ np.float64(p["v"])


@pytest.mark.parametrize("score", attention.SCORES)
def test_luong_matches_numpy(score):
    he = HE if score == "dot" else 5
    p, h, enc, mask = setup(score, he=he)
    f = jax.jit(lambda p, h, enc, m: (attention.luong_scores(p, score, h, enc),
                                      attention.luong_attend(p, score, h, enc, m),
                                      attention.luong_attend(p, score, h, enc, m,
                                                             attention.precompute_keys(p, score, enc))))
    s, (ctx, w), (ctx2, w2) = f(p, h, enc, mask)
    ref = np_scores(p, score, h, enc)
    np.testing.assert_allclose(s, ref, rtol=1e-5, atol=1e-5)
    ref_w = np.where(mask > 0, np.exp(ref - np.where(mask > 0, ref, -np.inf).max(-1, keepdims=True)), 0)
    ref_w /= ref_w.sum(-1, keepdims=True)
    np.testing.assert_allclose(w, ref_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
    assert np.all(np.asarray(w)[mask == 0] == 0.0)
    np.testing.assert_allclose(ctx, np.einsum("bs,bsh->bh", ref_w, enc), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w2, w, rtol=1e-6, atol=1e-7)   # hoisted keys give the same answer
    np.testing.assert_allclose(ctx2, ctx, rtol=1e-6, atol=1e-6)


def test_luong_errors():
    with pytest.raises(ValueError, match="unknown attention score"):
        attention.luong_init(jax.random.PRNGKey(0), "bilinear", 4, 4)
    with pytest.raises(ValueError, match="equal sizes"):
        attention.luong_init(jax.random.PRNGKey(0), "dot", 4, 5)


def test_padding_gets_no_gradient():
    p, h, enc, mask = setup("general", he=5)
    g = jax.jit(jax.grad(lambda enc: jnp.sum(
        attention.luong_attend(p, "general", h, enc, mask)[0] ** 2)))(enc)
    assert np.all(np.asarray(g)[mask == 0] == 0.0)


def np_window(raw, kappa_prev, chars, char_mask):
    raw = np.float64(raw)
    a, b, k = np.exp(np.split(raw, 3, -1))
    kappa = kappa_prev + k
    u = np.arange(chars.shape[1])
    phi = (a[:, :, None] * np.exp(-b[:, :, None] * (kappa[:, :, None] - u) ** 2)).sum(1) * char_mask
    return np.einsum("bu,buv->bv", phi, chars), kappa, phi


def window_data(seed=0, K=2, U=5, V=4):
    rng = np.random.default_rng(seed)
    raw = (0.5 * rng.normal(size=(B, 3 * K))).astype(np.float32)
    kappa_prev = rng.uniform(0, 3, size=(B, K)).astype(np.float32)
    chars = np.eye(V, dtype=np.float32)[rng.integers(0, V, (B, U))]
    char_mask = (np.arange(U)[None] < np.array([5, 3, 2])[:, None]).astype(np.float32)
    return raw, kappa_prev, chars, char_mask


def test_graves_window_matches_numpy():
    raw, kappa_prev, chars, char_mask = window_data()
    w, kappa, phi = jax.jit(attention.graves_window)(raw, kappa_prev, chars, char_mask)
    w_ref, k_ref, phi_ref = np_window(raw, kappa_prev, chars, char_mask)
    np.testing.assert_allclose(kappa, k_ref, rtol=1e-6)
    np.testing.assert_allclose(phi, phi_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-7)
    assert np.all(np.asarray(phi)[char_mask == 0] == 0.0)


def test_graves_kappa_accumulates_in_a_scan():
    raw, kappa0, chars, char_mask = window_data(1)
    raws = np.random.default_rng(2).normal(size=(10,) + raw.shape).astype(np.float32)

    def body(kappa, r):
        _, kappa, _ = attention.graves_window(r, kappa, chars, char_mask, kappa_scale=0.1)
        return kappa, kappa
    _, kappas = jax.jit(lambda k0, rs: jax.lax.scan(body, k0, rs))(kappa0, raws)
    inc = np.diff(np.concatenate([kappa0[None], np.asarray(kappas)]), axis=0)
    np.testing.assert_allclose(inc, 0.1 * np.exp(raws[..., -2:]), rtol=1e-5)  # eq 51, monotone
    assert np.all(inc > 0)


def test_graves_window_gradients(x64):
    raw, kappa_prev, chars, char_mask = (np.float64(a) for a in window_data(3))
    assert_grad_close(lambda r, k: jnp.sum(jnp.sin(attention.graves_window(r, k, chars, char_mask)[0])),
                      (raw, kappa_prev))
