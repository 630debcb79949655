"""The names facade: a loaded classifier that predicts a surname's language, and a loaded generator that
writes names of a language from start letters. Defaults are the command line's."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxseq.data import names as nd
from jaxseq.data.files import require_kind
from jaxseq.errors import DataError
from jaxseq.models.names import model as nm
from jaxseq.models.names import training as nt
from jaxseq.paths import as_path
from jaxseq.training import checkpoint

REPO_ROOT = Path(__file__).resolve().parents[3]
SHIPPED_ROOT = REPO_ROOT / "ckpt" / "names"          # ckpt/names/classifier, ckpt/names/generator
TOP = 3                  # languages printed per name
TEMPERATURE = 0.5        # generator sampling temperature
MAX_LETTERS = nt.MAX_LEN  # a generated name is cut after this many letters
SEED = 0


def shipped() -> list:
    return sorted(p.name for p in SHIPPED_ROOT.iterdir() if p.is_dir()) if SHIPPED_ROOT.is_dir() else []


def resolve_checkpoint(name_or_path="classifier") -> Path:
    """A shipped name (``classifier``, ``generator``: ``ckpt/names/<name>`` of this repository, from any
    working directory) or a checkpoint directory."""
    name = str(name_or_path)
    if "/" not in name and (SHIPPED_ROOT / name).is_dir():
        return SHIPPED_ROOT / name
    p = as_path(name)
    if p.is_dir():
        return p
    if not p.is_absolute() and (REPO_ROOT / p).is_dir():
        return REPO_ROOT / p
    raise DataError(f"no names checkpoint {name!r}: not a directory and not a shipped name (shipped: "
                    f"{shipped() or 'none'} in {SHIPPED_ROOT}); train one or give its path")


class _Loaded:
    def __init__(self, params, cfg, meta, path=None):
        self.params = jax.device_put(params)
        self.config, self.meta, self.path = cfg, meta, path
        self.languages = list(meta["languages"])

    def language_id(self, language) -> int:
        """The index of ``language`` (case-insensitive); ValueError naming it and the choices."""
        by_lower = {lang.lower(): k for k, lang in enumerate(self.languages)}
        k = by_lower.get(str(language).strip().lower())
        if k is None:
            raise ValueError(f"unknown language {language!r}; choose one of {', '.join(self.languages)}")
        return k


class NameClassifier(_Loaded):
    """A trained character RNN that reads a surname and scores the 18 languages."""

    def log_probs(self, names) -> np.ndarray:
        """``[len(names), n_languages]`` log-probabilities (names folded to ASCII first)."""
        folded = [nd.check_name(n) for n in _as_list(names)]
        T = -(-max(len(n) for n in folded) // 8) * 8      # padded to a multiple of 8: few compilations
        ids, lengths = nd.pad_ids(folded, T)
        return np.asarray(nt._classify(self.params, self.config, ids, lengths))

    def predict(self, names, top=TOP) -> list:
        """For each name, its ``top`` languages as ``[(language, log-probability), ...]``, best first."""
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= len(self.languages):
            raise ValueError(f"top {top!r}: give a whole number from 1 to {len(self.languages)}")
        logp = self.log_probs(names)
        order = np.argsort(-logp, axis=1)[:, :top]
        return [[(self.languages[k], float(row[k])) for k in ks] for row, ks in zip(logp, order)]


class NameGenerator(_Loaded):
    """A trained character RNN that writes names, conditioned on a language unless it is the
    unconditional baseline (``config.conditional`` False)."""

    def generate(self, language=None, start="ABC", *, n=1, temperature=TEMPERATURE, seed=SEED,
                 max_letters=MAX_LETTERS) -> list:
        """``n`` names for every start letter of ``start`` (``"RUS"``: names beginning with R, with U and
        with S; ``""``: names whose first letter is drawn too), in one jitted batch. ``start`` may also be
        a list of prefixes (``["Mac", "O'"]``). ``language`` is required by a conditional model."""
        lang = self._language(language)
        prefixes = [nd.check_name(p, "start") if p else "" for p in (list(start) or [""])]
        _check_sampling(n, temperature, max_letters)
        if any(len(p) > max_letters for p in prefixes):
            raise ValueError(f"a start prefix is longer than max_letters = {max_letters}")
        rows = [p for p in prefixes for _ in range(n)]
        prefix, lengths = nd.pad_ids(rows, max_letters + 1)
        langs = np.full((len(rows),), lang, np.int32)
        out = _sample(self.params, self.config, jax.random.PRNGKey(seed), jnp.asarray(langs),
                      jnp.asarray(prefix), jnp.asarray(lengths), int(max_letters), float(temperature))
        return [nd.decode(_until_end(r))[:max_letters] for r in np.asarray(out)]

    def nll(self, names, language=None) -> np.ndarray:
        """Each name's NLL in nats (its letters and the end), given ``language``."""
        folded = [nd.check_name(n) for n in _as_list(names)]
        ids, lengths = nd.pad_ids(folded)
        langs = np.full((len(folded),), self._language(language), np.int32)
        return np.asarray(nt._name_nll(self.params, self.config, ids, lengths, langs)[0])

    def _language(self, language):
        if not self.config.conditional:
            return 0   # ignored by the unconditional model
        if language is None:
            raise ValueError(f"this generator is conditional: give a language ({', '.join(self.languages)})")
        return self.language_id(language)


@functools.partial(jax.jit, static_argnums=(1, 6))
def _sample(params, cfg, key, langs, prefix, lengths, max_letters, temperature):
    return nm.sample(params, cfg, key, langs, prefix, lengths, max_letters, temperature)


def _until_end(row):
    stop = np.flatnonzero(row == nm.END)
    return row[:stop[0]] if len(stop) else row


def _as_list(names):
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ValueError("no names given (an empty list)")
    return names


def _check_sampling(n, temperature, max_letters):
    for what, v in (("n", n), ("max_letters", max_letters)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} {v!r}: give a whole number >= 1")
    if not (isinstance(temperature, (int, float)) and np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature {temperature!r}: give a finite number > 0")


def load(name_or_path="classifier", *, step=None, kind=None) -> Any:
    """A :class:`NameClassifier` or :class:`NameGenerator` (whichever the checkpoint holds) from a shipped
    name (``"classifier"``, ``"generator"``) or a checkpoint directory (a training run: its best
    validated step; or an export). ``kind`` ("classifier" / "generator") refuses the other one."""
    path = resolve_checkpoint(name_or_path)
    params, meta = checkpoint.load_for_sampling(path, step)
    task, cfg = nt.model_from_meta(meta, path)
    if kind is not None:
        require_kind(path, meta, f"names {kind}")
    return (NameClassifier if task == "classifier" else NameGenerator)(params, cfg, meta, path)


def load_classifier(name_or_path="classifier", *, step=None) -> NameClassifier:
    return load(name_or_path, step=step, kind="classifier")


def load_generator(name_or_path="generator", *, step=None) -> NameGenerator:
    return load(name_or_path, step=step, kind="generator")
