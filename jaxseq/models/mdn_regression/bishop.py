"""Bishop's (1994) inverse problem: x = y + 0.3 sin(2 pi y) + U(-noise, noise), y ~ U(0, 1); predict y from
x. For x in about (0.3, 0.7) three different y give the same x, so p(y | x) is multimodal."""
from __future__ import annotations

import numpy as np


def forward(y):
    """The generating map without noise: f(y) = y + 0.3 sin(2 pi y)."""
    return y + 0.3 * np.sin(2 * np.pi * y)


def make_data(seed, n, noise=0.1):
    """``(x [n], y [n])`` float32 of the generating process, seeded."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(0.0, 1.0, n)
    x = forward(y) + rng.uniform(-noise, noise, n)
    return x.astype(np.float32), y.astype(np.float32)


def true_log_prob(x, y, noise=0.1, grid=20001):
    """Exact log p(y | x) of the generating process (float64): p(y|x) = 1[|x - f(y)| < noise] / Z(x)
    with Z(x) = integral over y' in (0, 1) of the same indicator, by quadrature on a fine grid."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    f = forward(np.linspace(0.0, 1.0, grid))
    z = (np.abs(x[:, None] - f[None, :]) < noise).mean(1)  # grid mean = integral over (0, 1)
    inside = np.abs(x - forward(y)) < noise
    return np.where(inside, -np.log(np.maximum(z, 1e-300)), -np.inf)
