"""True-case NMT: tied embeddings (one table for source, target and output), the subword Translator
(raw text in, detokenised text out, n-best lists), and the shipped true-case checkpoints."""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from jaxseq import nmt as api
from jaxseq.data import eng_fra, subword
from jaxseq.data.vocab import EOS_ID
from jaxseq.models.nmt import model as nmt
from jaxseq.models.nmt import training

ROOT = Path(__file__).resolve().parents[2]
WORDS = "je tu il suis es est très fatigué aujourd'hui J'ai froid I'm cold am tired today . ! ?".split()


@pytest.fixture(scope="module")
def sw():
    rng = np.random.default_rng(0)
    sents = [" ".join(rng.choice(WORDS, rng.integers(2, 9))) for _ in range(300)]
    return subword.Subword(subword.train(sents, vocab_size=300, threads=1))


def test_tied_embeddings_numpy_reference():
    cfg = nmt.NMTConfig(src_vocab=40, tgt_vocab=40, emb=8, hidden=16, layers=1, dropout=0.0, tied=True)
    params = nmt.init(jax.random.PRNGKey(0), cfg)
    assert {"emb", "out_proj", "out_b"} <= set(params) and not {"src_emb", "tgt_emb", "out_w"} & set(params)
    n = sum(a.size for a in jax.tree_util.tree_leaves(params))
    untied = nmt.init(jax.random.PRNGKey(0), nmt.NMTConfig(**{**cfg.to_json(), "tied": False}))
    assert n == sum(a.size for a in jax.tree_util.tree_leaves(untied)) - 40 * 8 - 16 * 40 + 16 * 8   # one table
    b = {k: np.asarray(v) for k, v in eng_fra.make_batch([([5, 6, 7, EOS_ID], [8, 9, EOS_ID])], 4, 3).items()}
    state = nmt.decoder_start(params, cfg, b["src"], b["src_mask"])
    state, logits = nmt.decoder_step(params, cfg, state, b["tgt_in"][:, 0])
    E, P = (np.asarray(params[k], np.float64) for k in ("emb", "out_proj"))
    h = np.asarray(state["h_tilde"], np.float64)
    np.testing.assert_allclose(logits, h @ P @ E.T + np.asarray(params["out_b"]), atol=1e-5)
    # the teacher-forced pass agrees; gradients reach the shared table from both ends
    np.testing.assert_allclose(nmt.forward(params, cfg, b)[:, 0], logits, atol=1e-5)
    g = jax.grad(lambda p: nmt.loss_fn(p, cfg, b)[0])(params)
    assert np.abs(np.asarray(g["emb"])[[5, 6, 7]]).sum() > 0 and np.abs(np.asarray(g["emb"])[8]).sum() > 0
    with pytest.raises(ValueError, match="joint vocabulary"):
        nmt.init(jax.random.PRNGKey(0), nmt.NMTConfig(src_vocab=40, tgt_vocab=41, tied=True))


def test_config_checks_for_truecase():
    with pytest.raises(ValueError, match="text 'lower'"):
        training.Config(text="lower")
    with pytest.raises(ValueError, match="tied embeddings need the joint subword vocabulary"):
        training.Config(tied=True)
    with pytest.raises(ValueError, match="vocab_size = 100"):
        training.Config(text="truecase", vocab_size=100)
    assert training.PRESETS["truecase"]["text"] == "truecase" and training.PRESETS["truecase"]["tied"]
    with pytest.raises(ValueError, match="pad_to = 16: needs truecase text and at least max_tokens"):
        training.Config(text="truecase", max_tokens=32, pad_to=16)
    with pytest.raises(ValueError, match="pad_to = 32: needs truecase text"):
        training.Config(pad_to=32)


def test_subword_translator_reads_raw_text_and_writes_text(sw):
    cfg = nmt.NMTConfig(src_vocab=len(sw), tgt_vocab=len(sw), emb=8, hidden=16, layers=1, dropout=0.0,
                        bidirectional=False, tied=True)
    params = nmt.init(jax.random.PRNGKey(1), cfg)
    tr = api.Translator(params, cfg, {"subword": sw.to_json(), "lang": "eng-fra", "model": cfg.to_json()})
    assert tr.truecase and tr.src_vocab is tr.tgt_vocab
    out = tr.translate(["I'm cold.", "Zürich 😀"], beam=2, max_len=6)   # unseen characters: bytes
    assert len(out) == 2 and all(isinstance(o, str) for o in out)
    (t,) = tr.translate(["I'm cold."], beam=1, max_len=6, return_attention=True)
    assert t.source_tokens == sw.decode(sw.encode("I'm cold."))   # pieces label the attention plot
    assert t.attention.shape == (len(t.target_tokens) + 1, len(t.source_tokens) + 1)
    nb = tr.translate_n_best(["I'm cold.", "je suis"], 3, beam=3, max_len=6)
    assert [len(h) for h in nb] == [3, 3]
    scores = [s for _, s in nb[0]]
    assert scores == sorted(scores, reverse=True)
    assert nb[0][0][0] == tr.translate(["I'm cold."], beam=3, max_len=6)[0]   # the best is the 1-best
    with pytest.raises(ValueError, match="n_best 4 is larger than the beam size 3"):
        tr.translate_n_best(["a"], 4, beam=3)
    with pytest.raises(ValueError, match="empty sentence"):
        tr.translate(["  "])
    with pytest.raises(ValueError, match=f"over the limit of {api.MAX_WORDS}"):
        tr.translate(["très " * 300])


def test_shipped_truecase_models_translate_both_directions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # found from any working directory
    for lang in ("eng-fra", "fra-eng"):
        if not (ROOT / "ckpt" / "nmt_luong" / lang).is_dir():
            pytest.skip(f"ckpt/nmt_luong/{lang} not shipped")
    fr, en = api.load("eng-fra"), api.load("fra-eng")
    assert (fr.lang, en.lang) == ("eng-fra", "fra-eng") and fr.truecase and en.truecase
    out = fr.translate(["I'm very tired today.", "Where is the station?"])
    assert out == ["Je suis très fatigué aujourd'hui.", "Où est la gare ?"]   # accents, apostrophes
    assert en.translate(["J'ai froid.", "Où est la gare ?"]) == ["I'm cold.", "Where is the station?"]
    assert fr.cfg.tied and fr.params["emb"].shape == (8000, 192) and fr.meta["param_dtype"] == "bfloat16"
