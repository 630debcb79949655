"""Luong NMT: model attention, the decoder step, decoding, a toy task, checkpoints, the public API.
(The text pipeline and the eng-fra loader are tested in tests/data/test_eng_fra.py.)"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq import nmt as api
from jaxseq.data import eng_fra
from jaxseq.data.vocab import EOS_ID, PAD_ID
from jaxseq.errors import DataError
from jaxseq.models.nmt import model as nmt
from jaxseq.models.nmt import training
from jaxseq.models.nmt import translate as decode
from jaxseq.training import loop as train

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(emb=8, hidden=16, layers=2, dropout=0.0)
# jitted once per config (eager dispatch of the encoder is slow on a loaded CPU)
forward = jax.jit(nmt.forward, static_argnums=1, static_argnames="return_attn")
loss_fn = jax.jit(nmt.loss_fn, static_argnums=1)


def _batch(rng, B, S, T, V, src_lens, tgt_lens):
    src = rng.integers(4, V, (B, S)).astype(np.int32)
    tgt = rng.integers(4, V, (B, T)).astype(np.int32)
    pairs = [(list(src[i, :src_lens[i] - 1]) + [EOS_ID], list(tgt[i, :tgt_lens[i] - 1]) + [EOS_ID])
             for i in range(B)]
    return {k: jnp.asarray(v) for k, v in eng_fra.make_batch(pairs, S, T).items()}


# ----------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("score", ["dot", "concat"])   # general: numpy reference test below, with a mask
def test_attention_sums_to_one_and_ignores_padding(score):
    cfg = nmt.NMTConfig(src_vocab=30, tgt_vocab=31, score=score, **dict(TINY, layers=1))
    params = nmt.init(jax.random.PRNGKey(0), cfg)
    rng = np.random.default_rng(0)
    b = _batch(rng, 4, 9, 6, 30, [9, 5, 2, 7], [6, 3, 4, 1])
    logits, attn = forward(params, cfg, b, return_attn=True)
    assert logits.shape == (4, 6, 31) and attn.shape == (4, 6, 9)
    np.testing.assert_allclose(attn.sum(-1), 1.0, atol=1e-5)
    assert float(jnp.abs(attn * (1 - b["src_mask"][:, None, :])).max()) == 0.0
    # changing padded source tokens changes nothing (same compiled program: return_attn=True again)
    b2 = dict(b, src=jnp.where(b["src_mask"] > 0, b["src"], 17))
    np.testing.assert_allclose(forward(params, cfg, b2, return_attn=True)[0], logits, atol=1e-6)


def test_general_attention_numpy_reference_through_decoder_step():
    cfg = nmt.NMTConfig(src_vocab=30, tgt_vocab=31, score="general", **TINY)
    params = nmt.init(jax.random.PRNGKey(1), cfg)
    rng = np.random.default_rng(1)
    b = _batch(rng, 3, 7, 4, 30, [7, 4, 2], [4, 4, 4])

    @jax.jit
    def first_step(params, b):  # the public decoder API that jaxseq.search drives
        state = nmt.decoder_start(params, cfg, b["src"], b["src_mask"])
        return nmt.decoder_step(params, cfg, state, b["tgt_in"][:, 0])
    state, logits = first_step(params, b)
    enc, out, w = state["enc"], state["h_tilde"], state["attn"]
    h = np.asarray(state["carries"][-1][0], np.float64)
    E, W = np.asarray(enc, np.float64), np.asarray(params["attn"]["w"], np.float64)
    m = np.asarray(b["src_mask"])
    s = np.einsum("bd,de,bse->bs", h, W, E)            # Luong eq. 8, general: h_t^T W_a h_s
    s = np.where(m > 0, s, -np.inf)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    np.testing.assert_allclose(w, a, atol=1e-5)
    c = np.einsum("bs,bse->be", a, E)
    ht = np.tanh(np.concatenate([c, h], -1) @ np.asarray(params["wc"], np.float64))   # eq. 5
    np.testing.assert_allclose(out, ht, atol=1e-5)
    p = {k: np.asarray(params[k], np.float64) for k in ("out_w", "out_b")}
    np.testing.assert_allclose(logits, ht @ p["out_w"] + p["out_b"], atol=1e-5)   # eq. 6
    # the teacher-forced forward pass computes the same first step
    np.testing.assert_allclose(forward(params, cfg, b)[:, 0], logits, atol=1e-5)


def test_scheduled_sampling_eps_one_is_teacher_forcing():
    small = dict(TINY, layers=1)
    cfg_tf = nmt.NMTConfig(src_vocab=30, tgt_vocab=31, **small)
    cfg_ss = nmt.NMTConfig(src_vocab=30, tgt_vocab=31, ss="linear", ss_k=1.0, ss_c=0.01, **small)
    params = nmt.init(jax.random.PRNGKey(0), cfg_tf)
    b = _batch(np.random.default_rng(2), 4, 6, 6, 30, [6, 3, 4, 5], [6, 5, 4, 6])
    key = jax.random.PRNGKey(3)
    f_tf, f_ss = jax.jit(nmt.make_loss(cfg_tf)), jax.jit(nmt.make_loss(cfg_ss))
    l_tf, m_tf = f_tf(params, b, key, jnp.int32(0))       # the step comes from the loop, not the batch
    (l_ss1, m1), (l_ssh, mh), (l_ss0, m0) = (f_ss(params, b, key, jnp.int32(t)) for t in (0, 50, 100))
    # eps = k - c * step: 1 at step 0 (exactly teacher forcing), 0.5 at 50, 0 at 100 (own samples only)
    np.testing.assert_allclose([m_tf["tf_prob"], m1["tf_prob"], mh["tf_prob"], m0["tf_prob"]],
                               [1.0, 1.0, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(l_tf, l_ss1, rtol=1e-6)
    assert abs(float(l_ss0) - float(l_tf)) > 1e-4


def test_scheduled_sampling_default_k_per_schedule():
    # one shared k=1000 made `linear` eps = 1000 - c * step, i.e. teacher forcing for ~10^7 steps
    assert nmt.NMTConfig(src_vocab=5, tgt_vocab=5).ss_k is None
    steps = jnp.array([0, 100, 5000, 20000])
    want = {"linear": np.clip(1.0 - 1e-4 * np.array([0, 100, 5000, 20000]), 0, 1),
            "exponential": 0.999 ** np.array([0, 100, 5000, 20000], np.float64),
            "inverse_sigmoid": 1000 / (1000 + np.exp(np.array([0, 100, 5000, 20000]) / 1000))}
    for kind, ref in want.items():
        cfg = nmt.NMTConfig(src_vocab=5, tgt_vocab=5, ss=kind)
        np.testing.assert_allclose(nmt.tf_prob(cfg, steps), ref, rtol=1e-5, atol=1e-6)
    assert want["linear"][2] == 0.5          # scheduled sampling is on by mid-training
    # the run config leaves k unset unless given (the CLI test checks that --ss-k 0.9 reaches the meta)
    cfg = training.Config(ss="linear")
    assert cfg.ss_k is None and training.model_config(cfg, 5, 5).ss_k is None
    assert training.model_config(training.Config(ss="linear", ss_k=0.9), 5, 5).ss_k == 0.9


def _reverse_data(rng, n, V=12, lo=2, hi=6):
    pairs = []
    for _ in range(n):
        s = list(rng.integers(4, V, rng.integers(lo, hi + 1)))
        pairs.append((s + [EOS_ID], s[::-1] + [EOS_ID]))
    return pairs


# unidirectional encoder: half the compile time of the bidirectional one (tested in the forward tests above)
TOY = nmt.NMTConfig(src_vocab=12, tgt_vocab=12, emb=16, hidden=32, layers=1, dropout=0.0, score="general",
                    bidirectional=False)
TOY_DECODE = dict(batch_size=200, max_len=8)   # one decoding shape for every toy test: compiled once


@pytest.fixture(scope="module")
def toy():
    """The reverse task trained once (one train-step compile) and shared by the decoding tests."""
    params = nmt.init(jax.random.PRNGKey(0), TOY)
    bb = eng_fra.BucketedBatches(_reverse_data(np.random.default_rng(0), 4096), 32, seed=0, bounds=[8])
    opt = train.make_optimizer(train.TrainConfig(lr=2e-2, clip_norm=5.0, steps=120, schedule="cosine"))
    step = train.make_train_step(nmt.make_loss(TOY), opt)
    state = opt.init(params)
    for i in range(120):
        params, state, m = step(params, state, bb(i), jax.random.PRNGKey(i), jnp.int32(i))
    test = _reverse_data(np.random.default_rng(1), 200)
    return params, test, float(m["loss"])


def _toy_sources(test):
    src = np.zeros((TOY_DECODE["batch_size"], 8), np.int32)
    for i, (s_, _) in enumerate(test):
        src[i, :len(s_)] = s_
    return jnp.asarray(src), jnp.asarray((src != PAD_ID).astype(np.float32))


def test_reverse_toy_task_learns(toy):
    params, test, loss = toy
    src, mask = _toy_sources(test)
    toks, _ = decode.greedy(params, TOY, src, mask, max_len=TOY_DECODE["max_len"])
    attn = np.asarray(decode.attention_for(params, TOY, src, mask, toks))   # = the weights while decoding
    toks = np.asarray(toks)
    exact = np.mean([list(toks[i, :len(t)]) == t for i, (_, t) in enumerate(test)])   # <eos> included
    assert exact > 0.95, f"exact match {exact:.3f} after 120 steps (loss {loss:.3f})"
    # reversing is learnt through attention: output step t of an n-token sentence looks at source n-1-t
    anti = np.mean([(attn[i, :len(s_) - 1].argmax(-1) == np.arange(len(s_) - 2, -1, -1)).all()
                    for i, (s_, _) in enumerate(test)])
    assert anti > 0.9, f"{anti:.3f} of the sentences attend anti-diagonally"


def test_beam_one_equals_greedy(toy):
    params, test, _ = toy
    # untrained-looking inputs too: random tokens of random lengths, not only the task's sentences
    rng = np.random.default_rng(4)
    rand = [(list(rng.integers(4, 12, n)) + [EOS_ID], None) for n in rng.integers(0, 8, 50)]
    src, mask = _toy_sources(test[:150] + rand)
    L = TOY_DECODE["max_len"]
    g, g_score = decode.greedy(params, TOY, src, mask, max_len=L)
    bm, bm_score = decode.beam_search(params, TOY, src, mask, max_len=L, beam=1, alpha=0.0)
    np.testing.assert_array_equal(g, bm)
    np.testing.assert_allclose(g_score, bm_score, rtol=1e-5, atol=1e-5)
    # a wider beam never finds a worse (unnormalised) log-probability than greedy
    _, b4 = decode.beam_search(params, TOY, src, mask, max_len=L, beam=4, alpha=0.0)
    assert (np.asarray(b4) >= np.asarray(g_score) - 1e-4).all()


def test_checkpoint_restores_and_translates_identically(toy, tmp_path):
    params, test, _ = toy
    meta = {"model": TOY.to_json(), "src_vocab": ["<pad>", "<sos>", "<eos>", "<unk>", "a"], "step": 7}
    nmt.save(tmp_path / "f32", params, meta)
    p2, cfg2, meta2 = nmt.restore(tmp_path / "f32")
    assert cfg2 == TOY and meta2["src_vocab"] == meta["src_vocab"] and meta2["step"] == 7
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, p2)
    srcs = [s for s, _ in test]
    a = decode.translate_ids(params, TOY, srcs, beam=4, alpha=0.0, **TOY_DECODE)
    assert decode.translate_ids(p2, cfg2, srcs, beam=4, alpha=0.0, **TOY_DECODE) == a
    # a bf16 export restores to float32 arrays within bf16 rounding
    nmt.save(tmp_path / "bf16", params, meta, "bfloat16")
    p3, _, m3 = nmt.restore(tmp_path / "bf16")
    assert m3["param_dtype"] == "bfloat16"
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-2, atol=1e-2), params, p3)
    assert p3["wc"].dtype == jnp.float32


# ------------------------------------------------------------------------------------ public API
TOY_WORDS = ["<pad>", "<sos>", "<eos>", "<unk>"] + list("abcdefgh")


def test_translator_on_the_toy_task(toy):
    params, _, _ = toy
    tr = api.Translator(params, TOY, {"src_vocab": TOY_WORDS, "tgt_vocab": TOY_WORDS, "lang": "rev"})
    assert tr.translate(["a b c d", "H G"]) == ["d c b a", "g h"]           # normalised like the data
    assert tr.translate(["a b c d"], beam=1) == ["d c b a"]
    (t,) = tr.translate(["a b c"], return_attention=True)
    assert t.text == "c b a" and t.source_tokens == ["a", "b", "c"] and t.target_tokens == ["c", "b", "a"]
    assert t.attention.shape == (4, 4)                                   # (output + <eos>, source + <eos>)
    np.testing.assert_allclose(t.attention.sum(-1), 1.0, atol=1e-5)
    assert (t.attention[:3, :3].argmax(-1) == [2, 1, 0]).all()           # reversal through attention
    with pytest.raises(ValueError, match="beam size"):
        tr.translate(["a"], beam=0)
    with pytest.raises(ValueError, match="nothing to translate"):
        tr.translate(["123"])
    with pytest.raises(TypeError):
        tr.translate("a b")


def test_translator_refuses_nonsense_and_warns_on_unknown_words(toy, caplog):
    params, _, _ = toy
    tr = api.Translator(params, TOY, {"src_vocab": TOY_WORDS, "tgt_vocab": TOY_WORDS, "lang": "rev"})
    for kw, what in ((dict(beam=-2), "beam size -2"), (dict(beam=2.5), "beam size 2.5"),
                     (dict(max_len=0), "max_len 0"), (dict(alpha=-1.0), "alpha -1.0"),
                     (dict(alpha=float("nan")), "alpha nan")):
        with pytest.raises(ValueError, match=what):
            tr.translate(["a b"], **kw)
    for text in ("", "   "):
        with pytest.raises(ValueError, match="empty sentence"):
            tr.translate([text])
    with pytest.raises(ValueError, match="no sentences"):
        tr.translate([])
    with pytest.raises(ValueError, match="only punctuation"):
        tr.translate(["? !"])
    # only unknown words: the output would not depend on the input, so it is refused, naming them
    with pytest.raises(ValueError, match="unknown: zz, qq"):
        tr.translate(["zz qq zz ."])
    # too long for the model's length buckets: refused with the limit named, never cut silently
    with pytest.raises(ValueError, match=f"500 tokens .* limit of {api.MAX_WORDS} tokens"):
        tr.translate([" ".join(["a"] * 500)])
    # some unknown words: translated (as <unk>) with a warning naming them
    with caplog.at_level("WARNING", logger="jaxseq.models.nmt.translate"):
        (out,) = tr.translate(["a zz b"])
    assert isinstance(out, str) and "translated as <unk>: zz" in caplog.text


def test_restore_refuses_another_familys_checkpoint():
    hw = ROOT / "ckpt" / "handwriting_synthesis"
    with pytest.raises(DataError, match=f"{hw} is a handwriting synthesis checkpoint, not an NMT one"):
        api.load(hw)
    with pytest.raises(DataError, match="Sketch-RNN checkpoint"):
        api.load(ROOT / "ckpt" / "sketch_rnn" / "sheep")


def test_config_refuses_bad_values():
    for field, bad in (("steps", -1), ("batch_size", 0), ("beam", 0), ("hidden", 0), ("lr", -1.0),
                       ("lr", 0.0), ("dropout", 1.0), ("warmup", -5), ("alpha", -0.5)):
        with pytest.raises(ValueError, match=f"{field} = {bad}"):
            training.Config(**{field: bad})
    with pytest.raises(ValueError, match="lang 'eng-deu'"):
        training.Config(lang="eng-deu")


def test_defaults_are_defined_once():
    assert (api.BEAM, api.ALPHA) == (training.Config().beam, training.Config().alpha) == (5, 1.0)
    import inspect
    sig = inspect.signature(api.Translator.translate).parameters
    assert (sig["beam"].default, sig["alpha"].default) == (api.BEAM, api.ALPHA)


def test_load_the_shipped_checkpoint_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fr = api.load("eng-fra")   # the true-case model (tests/models/test_nmt_truecase.py tests its output)
    assert fr.lang == "eng-fra" and fr.cfg.hidden == 256 and fr.params["wc"].dtype == jnp.float32
    assert fr.translate(["Where is the station?"]) == ["Où est la gare ?"]
    with pytest.raises(FileNotFoundError, match="shipped: eng-fra, fra-eng"):
        api.load("klingon")
