"""Quality numbers of a trained CycleGAN on the held-out test images of both domains.

- **Cycle reconstruction L1**: mean |F(G(a)) - a| over test images of A (and |G(F(b)) - b| over B), in
  [0, 1] pixel units (the training loss works in [-1, 1], i.e. twice these values).
- **Classifier verdict** (when :mod:`jaxseq.models.cnn.frechet` and its shipped Fashion-MNIST classifier
  are present): the fraction of translated test images of A that the classifier calls class B, and the
  reverse; with the same classifier's accuracy on the real test images of both classes beside them.
- **Fréchet distance** on that classifier's features between the translated images and the real test
  images of the target domain, with references: the real source vs the real target (the distance
  before any translation) and, given ``spare_a``/``spare_b`` (real images of each domain that training
  never saw, as many as the test images), spare vs test of the target: what a perfect translator would
  score at this sample size.
"""
from __future__ import annotations

import logging

import numpy as np

from jaxseq.data import images as imx
from jaxseq.errors import DataError

log = logging.getLogger("jaxseq.cyclegan")


def _frechet():
    """The shared Fréchet/classifier module, or None when it (or its checkpoint) is missing."""
    try:
        from jaxseq.models.cnn import frechet
    except ImportError as e:
        log.warning("no jaxseq.models.cnn.frechet (%s): classifier verdict and Fréchet distance skipped", e)
        return None
    return frechet


def cycle_l1(model, x_a, x_b):
    """``{"cycle_l1_a", "cycle_l1_b"}``: mean absolute cycle error in [0, 1] units. x_*: uint8 NHWC."""
    out = {}
    for name, x, d in (("a", x_a, "a2b"), ("b", x_b, "b2a")):
        _, back = model.cycle(x, d)
        out[f"cycle_l1_{name}"] = float(np.mean(np.abs(back - imx.to_unit(x))))
    return out


def score(model, x_a, x_b, class_a=None, class_b=None, spare_a=None, spare_b=None):
    """All numbers above for test images ``x_a``, ``x_b`` (uint8 ``[N, H, W, C]``). ``class_a``/``class_b``
    are the domains' labels for the classifier (None: no classifier verdict)."""
    res = {"n_test_a": int(len(x_a)), "n_test_b": int(len(x_b)), **cycle_l1(model, x_a, x_b)}
    fake_b, fake_a = model.translate(x_a, "a2b"), model.translate(x_b, "b2a")
    res["identity_l1_a2b_on_a"] = float(np.mean(np.abs(fake_b - imx.to_unit(x_a))))
    res["identity_l1_b2a_on_b"] = float(np.mean(np.abs(fake_a - imx.to_unit(x_b))))
    fr = _frechet() if class_a is not None and class_b is not None else None
    if fr is None:
        return res
    try:
        real_a, real_b = imx.to_unit(x_a), imx.to_unit(x_b)
        pa, pb = np.asarray(fr.classify(real_a)), np.asarray(fr.classify(real_b))
        qa, qb = np.asarray(fr.classify(fake_b)), np.asarray(fr.classify(fake_a))
        res.update(real_a_classified_a=float(np.mean(pa == class_a)),
                   real_b_classified_b=float(np.mean(pb == class_b)),
                   a2b_classified_b=float(np.mean(qa == class_b)),
                   a2b_still_classified_a=float(np.mean(qa == class_a)),
                   b2a_classified_a=float(np.mean(qb == class_a)),
                   b2a_still_classified_b=float(np.mean(qb == class_b)))
        fa, fb = np.asarray(fr.features(real_a)), np.asarray(fr.features(real_b))
        ffb, ffa = np.asarray(fr.features(fake_b)), np.asarray(fr.features(fake_a))
        res.update(fd_a2b_vs_real_b=float(fr.frechet_distance(ffb, fb)),
                   fd_b2a_vs_real_a=float(fr.frechet_distance(ffa, fa)),
                   fd_real_a_vs_real_b=float(fr.frechet_distance(fa, fb)))
        for name, spare, feats in (("b", spare_b, fb), ("a", spare_a, fa)):
            if spare is not None and len(spare) >= len(feats):   # the same N as the translated set
                sf = np.asarray(fr.features(imx.to_unit(spare[:len(feats)])))
                res[f"fd_spare_{name}_vs_real_{name}"] = float(fr.frechet_distance(sf, feats))
    except (DataError, OSError, ValueError, RuntimeError) as e:   # e.g. the classifier checkpoint is missing
        log.warning("classifier verdict / Fréchet distance skipped: %s", e)
    return res
