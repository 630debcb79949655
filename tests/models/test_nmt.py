"""Luong NMT: text pipeline, eng-fra loader, model attention, decoding, a toy task, checkpoints."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxseq.models.nmt import translate as decode
from jaxseq.data import eng_fra
from jaxseq.models.nmt import model as nmt
from jaxseq.training import loop as train
from jaxseq.data.vocab import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Vocab, normalise, tokenize

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(emb=8, hidden=16, layers=2, dropout=0.0)
# jitted once per config (eager dispatch of the encoder is slow on a loaded CPU)
forward = jax.jit(nmt.forward, static_argnums=1, static_argnames="return_attn")
loss_fn = jax.jit(nmt.loss_fn, static_argnums=1)


def _experiment():
    """experiments/nmt_luong.py as a module (registered first: dataclasses look their module up)."""
    if "nmt_luong_cli" not in sys.modules:
        spec = importlib.util.spec_from_file_location("nmt_luong_cli", ROOT / "experiments" / "nmt_luong.py")
        sys.modules["nmt_luong_cli"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["nmt_luong_cli"])
    return sys.modules["nmt_luong_cli"]


def _batch(rng, B, S, T, V, src_lens, tgt_lens):
    src = rng.integers(4, V, (B, S)).astype(np.int32)
    tgt = rng.integers(4, V, (B, T)).astype(np.int32)
    pairs = [(list(src[i, :src_lens[i] - 1]) + [EOS_ID], list(tgt[i, :tgt_lens[i] - 1]) + [EOS_ID])
             for i in range(B)]
    return {k: jnp.asarray(v) for k, v in eng_fra.make_batch(pairs, S, T).items()}


# ------------------------------------------------------------------------------------------ text
def test_normalise_like_the_tutorial():
    assert normalise("  Je suis FÂCHÉ!  ") == "je suis fache !"
    assert normalise("I'm cold.") == "i m cold ."
    assert normalise("Où es-tu ?") == "ou es tu ?"
    assert normalise("Run!\u202f") == "run !"
    assert normalise("123 ,;") == ""


def test_tokenizer_round_trip_and_unk():
    sents = [tokenize(s) for s in ["I am cold.", "He is tall!", "I am tall?"]]
    v = Vocab.build(sents, min_count=1)
    assert v.itos[:4] == ["<pad>", "<sos>", "<eos>", "<unk>"]
    for s in sents:
        ids = v.encode(s)
        assert ids[-1] == EOS_ID and v.decode(ids) == s
    assert v.encode(["i", "zebra"], eos=False) == [v.stoi["i"], UNK_ID]
    v2 = Vocab.build(sents, min_count=2)  # 'i', 'am', 'tall' appear twice
    assert set(v2.itos[4:]) == {"i", "am", "tall"}
    assert Vocab.from_json(v.to_json()).stoi == v.stoi
    assert v.decode([v.stoi["i"], PAD_ID, SOS_ID, v.stoi["am"], EOS_ID, v.stoi["cold"]]) == ["i", "am"]


# ---------------------------------------------------------------------------------------- loader
def test_bad_lines_counted_not_fatal():
    text = "Go.\tVa !\nno tab here\n\nHi.\t\n123\t!!!x\nI am cold.\tJ'ai froid.\n"
    pairs, rep = eng_fra.parse_pairs(text)
    assert pairs == [("go .", "va !"), ("i am cold .", "j ai froid .")]
    # 'no tab', empty French side, and a side with no letters left ('123'); the blank line is ignored
    assert rep.bad == 3 and rep.lines == 5 and rep.pairs == 2
    assert [n for n, _ in rep.bad_examples] == [2, 4, 5]
    assert "3 bad lines" in str(rep)


def test_tutorial_filter():
    pairs = [("i am cold .", "j ai froid ."), ("i m ok .", "ca va ."), ("go .", "va !"),
             ("you are " + "very " * 6 + "tall .", "x ."), ("they re here .", "ils sont la .")]
    kept = eng_fra.filter_pairs(pairs, "tutorial")
    assert kept == [pairs[0], pairs[1], pairs[4]]
    assert eng_fra.filter_pairs(pairs, "none") == pairs
    with pytest.raises(ValueError):
        eng_fra.filter_pairs(pairs, "bogus")


def test_bucketed_batches_static_shapes_and_deterministic():
    rng = np.random.default_rng(0)
    pairs = [(list(rng.integers(4, 50, n)) + [EOS_ID], list(rng.integers(4, 50, m)) + [EOS_ID])
             for n, m in rng.integers(1, 30, (200, 2))]
    bb = eng_fra.BucketedBatches(pairs, 8, seed=3)
    assert bb.bounds == [12, 16, 24, 36]
    for step in range(30):
        b = bb(step)
        L = b["src"].shape[1]
        assert L in bb.bounds and b["tgt_in"].shape == (8, L)
        assert (b["tgt_in"][:, 0] == SOS_ID).all()
        np.testing.assert_array_equal(b["tgt_mask"], b["tgt_out"] != PAD_ID)
        # decoder input is the target shifted right by one
        np.testing.assert_array_equal(b["tgt_in"][:, 1:] * b["tgt_mask"][:, 1:],
                                      b["tgt_out"][:, :-1] * b["tgt_mask"][:, 1:])
    bb2 = eng_fra.BucketedBatches(pairs, 8, seed=3)
    for step in (0, 17, 45):
        np.testing.assert_array_equal(bb(step)["src"], bb2(step)["src"])
    sp = eng_fra.split(100, seed=1)
    assert sorted(np.concatenate(list(sp.values())).tolist()) == list(range(100))


def test_real_zip_smoke(data_dir):
    path = data_dir / eng_fra.RELPATH
    if not path.exists():
        pytest.skip(f"{path} not present")
    pairs, rep = eng_fra.parse_pairs(eng_fra.read_text(path))
    assert rep.lines == 135842 and rep.pairs + rep.bad == rep.lines and len(pairs) > 130000
    tut = eng_fra.filter_pairs(pairs, "tutorial")
    assert 9000 < len(tut) < 12000
    assert all(e.startswith(eng_fra.ENG_PREFIXES) for e, _ in tut)


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
    def first_step(params, b):
        enc, finals = nmt.encode(params, cfg, b["src"], b["src_mask"])
        state = nmt.init_state(params, cfg, finals, 3)
        x = nmt.embed_project(params, cfg, b["tgt_in"][:, 0])
        return enc, nmt.decoder_step(params, cfg, state, x, (enc, None, b["src_mask"]))
    enc, ((new, h_tilde), out, w) = first_step(params, b)
    h = np.asarray(new[-1][0], np.float64)
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


def test_scheduled_sampling_eps_one_is_teacher_forcing():
    small = dict(TINY, layers=1)
    cfg_tf = nmt.NMTConfig(src_vocab=30, tgt_vocab=31, **small)
    cfg_ss = nmt.NMTConfig(src_vocab=30, tgt_vocab=31, ss="linear", ss_k=1.0, ss_c=0.01, **small)
    params = nmt.init(jax.random.PRNGKey(0), cfg_tf)
    b = _batch(np.random.default_rng(2), 4, 6, 6, 30, [6, 3, 4, 5], [6, 5, 4, 6])
    key = jax.random.PRNGKey(3)
    f_tf, f_ss = jax.jit(nmt.make_loss(cfg_tf)), jax.jit(nmt.make_loss(cfg_ss))
    at = lambda step: dict(b, step=jnp.full((4,), step, jnp.int32))
    l_tf, m_tf = f_tf(params, at(0), key)
    (l_ss1, m1), (l_ssh, mh), (l_ss0, m0) = (f_ss(params, at(t), key) for t in (0, 50, 100))
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
    # the experiment leaves k unset unless --ss-k is given
    exp = _experiment()
    _, cfg = exp.parse_args(["--ss", "linear"])
    assert cfg.ss_k is None and exp.model_config(cfg, 5, 5).ss_k is None
    assert exp.parse_args(["--ss", "linear", "--ss-k", "0.9"])[1].ss_k == 0.9


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
        b = dict(bb(i), step=np.zeros(32, np.int32))
        params, state, m = step(params, state, b, jax.random.PRNGKey(i))
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
    toks, attn, _ = decode.greedy(params, TOY, src, mask, max_len=TOY_DECODE["max_len"])
    toks, attn = np.asarray(toks), np.asarray(attn)
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
    g, _, g_score = decode.greedy(params, TOY, src, mask, max_len=L)
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
    p2, cfg2, meta2 = nmt.load(tmp_path / "f32")
    assert cfg2 == TOY and meta2["src_vocab"] == meta["src_vocab"] and meta2["step"] == 7
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, p2)
    srcs = [s for s, _ in test]
    a = decode.translate_ids(params, TOY, srcs, beam=4, alpha=0.0, **TOY_DECODE)
    assert decode.translate_ids(p2, cfg2, srcs, beam=4, alpha=0.0, **TOY_DECODE) == a
    # a bf16 export restores to float32 arrays within bf16 rounding
    nmt.save(tmp_path / "bf16", params, meta, "bfloat16")
    p3, _, m3 = nmt.load(tmp_path / "bf16")
    assert m3["param_dtype"] == "bfloat16"
    jax.tree_util.tree_map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-2, atol=1e-2), params, p3)
    assert p3["wc"].dtype == jnp.float32
