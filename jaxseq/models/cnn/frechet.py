"""Fréchet distance (Heusel et al. 2017, "FID") on the features of a Fashion-MNIST classifier.

Method (docs/results_images.md, "Fréchet distance"): the features are the penultimate-layer activations
(post-ReLU, eval mode) of the CNN shipped in ``ckpt/cnn/fashion-mnist``; fit a Gaussian to each set in
float64 and take

    FD = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).

tr((S_a S_b)^(1/2)) equals tr((A S_b A)^(1/2)) with A = S_a^(1/2) (the same eigenvalues), and A S_b A is
symmetric positive semi-definite, so two ``eigh`` calls replace scipy's ``sqrtm`` of a non-symmetric
product (eigenvalues that round below 0 are clipped). The GAN pages compare 10,000 generated images
with the 10,000 Fashion-MNIST test images; :func:`reference` is the real-data value of the same recipe
(10,000 seeded training images vs the test images), stored with the shipped classifier.

    from jaxseq.models.cnn import frechet
    fd = frechet.frechet_distance(frechet.features(samples), frechet.features(test_images))
"""
from __future__ import annotations

import functools

import numpy as np

from jaxseq.errors import DataError

N_REF = 10_000        # images on each side, generated vs test and the real-data reference alike
REF_SEED = 0          # which 10,000 training images the reference draws


@functools.lru_cache(maxsize=4)
def classifier(name_or_path="fashion-mnist"):
    """The feature classifier (:class:`jaxseq.models.cnn.api.Classifier`), loaded once."""
    from jaxseq.models.cnn import api
    return api.load(name_or_path)


def _images(images):
    x = np.asarray(images)
    if np.issubdtype(x.dtype, np.floating) and x.size and (x.min() < -1e-3 or x.max() > 1 + 1e-3):
        raise ValueError(f"images must be floats in [0, 1]; got values in [{x.min():.3g}, {x.max():.3g}]"
                         f" (map tanh outputs with jaxseq.data.images.from_signed first)")
    return x


def features(images, *, model="fashion-mnist", batch=1000) -> np.ndarray:
    """float64 ``[N, D]`` penultimate-layer features of images in [0, 1], ``[N, 28, 28]``,
    ``[N, 28, 28, 1]`` or flat ``[N, 784]`` (32x32 inputs are centre-cropped to 28)."""
    return classifier(model).features(_images(images), batch).astype(np.float64)


def classify(images, *, model="fashion-mnist", batch=1000) -> np.ndarray:
    """Predicted Fashion-MNIST classes ``[N]`` of images in [0, 1] (e.g. to score CGAN samples)."""
    return classifier(model).predict(_images(images), batch)


def gaussian_stats(feats):
    """float64 mean ``[D]`` and covariance ``[D, D]`` (``ddof=1``) of ``feats [N, D]``."""
    f = np.asarray(feats, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features of shape {f.shape}: need [N, D] with N >= 2")
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(s):
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_from_stats(mu_a, cov_a, mu_b, cov_b) -> float:
    """FD between N(mu_a, cov_a) and N(mu_b, cov_b), in float64."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    if mu_a.shape != mu_b.shape or cov_a.shape != cov_b.shape:
        raise ValueError(f"feature sizes differ: {mu_a.shape} vs {mu_b.shape}")
    root = _sqrt_psd(cov_a)
    w = np.linalg.eigvalsh(root @ cov_b @ root)
    tr_sqrt = np.sqrt(np.clip(w, 0, None)).sum()
    d = mu_a - mu_b
    return float(d @ d + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_sqrt)


def frechet_distance(feats_a, feats_b) -> float:
    """FD between Gaussians fitted to two feature sets ``[N_a, D]`` and ``[N_b, D]`` (float64)."""
    return frechet_from_stats(*gaussian_stats(feats_a), *gaussian_stats(feats_b))


def compute_reference(data_dir=None, *, model="fashion-mnist", n=N_REF, seed=REF_SEED) -> dict:
    """The real-data reference from the data: FD of ``n`` seeded Fashion-MNIST training images vs the
    ``n`` first test images (all 10,000 by default), and the classifier's test accuracy."""
    from jaxseq.data import mnist
    xtr, _, xte, yte, _ = mnist.load_split("fashion-mnist", data_dir)
    idx = np.sort(np.random.default_rng(seed).permutation(len(xtr))[:n])
    clf = classifier(model) if isinstance(model, str) else model
    a = clf.features(xtr[idx]).astype(np.float64)
    b = clf.features(xte[:n]).astype(np.float64)
    acc = float((clf.predict(xte) == yte).mean())
    return {"test": frechet_distance(a, b), "n": int(min(n, len(xte))), "seed": seed,
            "feature_dim": int(a.shape[1]), "test_acc": acc,
            "method": f"FD of {len(idx)} seeded Fashion-MNIST train images vs {len(b)} test images on the "
                      f"classifier's {a.shape[1]}-d penultimate features, float64"}


def reference(split="test", *, model="fashion-mnist") -> float:
    """The real-test-set reference value stored with the classifier (no data needed)."""
    if split != "test":
        raise ValueError(f"reference split {split!r}: only 'test' (train subset vs test) is recorded")
    meta = classifier(model).meta
    ref = meta.get("frechet")
    if not ref:
        raise DataError(f"the classifier {model!r} holds no Fréchet reference; export it with "
                        f"experiments/cnn.py train ... --export DIR (which records it)")
    return float(ref["test"])
