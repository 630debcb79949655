"""MLP GANs on 28x28 images: the GAN of Goodfellow et al. (2014), the conditional GAN of Mirza & Osindero
(2014) and InfoGAN (Chen et al. 2016), as pure init/apply functions over a params pytree.

Params ``{"g": generator, "d": discriminator}``. The generator is ``[z, code] -> 128 (ReLU) -> 784
(sigmoid)``, images in [0, 1]; the discriminator is ``[x, label] -> 128 (LeakyReLU 0.2) -> 1 logit``.
Xavier (Glorot-uniform) weights, zero biases; noise ``z ~ U(-1, 1)``.

- ``gan``: no code.
- ``cgan``: a one-hot label concatenated to the generator's noise and to the discriminator's image.
- ``infogan``: the generator also takes a categorical code ``c1 ~ Cat(K)`` (one-hot) and ``n_cont``
  continuous codes ``c2 ~ U(-1, 1)``; the Q network is a linear head on the discriminator's hidden layer
  (the body is shared, as in the paper) giving K logits of Q(c1 | x) and the means of a unit-variance
  Gaussian Q(c2 | x) (the paper's code fixes the standard deviation to 1 too).

Shapes: ``x: [B, 784]``, ``y: [B]`` int labels, latent dict ``{"z": [B, Z], "y"/"cat": [B], "cont":
[B, C]}``. Losses are float32 means over the batch.
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxseq.nn import layers

KINDS = ("gan", "cgan", "infogan")


@dataclasses.dataclass(frozen=True)
class GANConfig:
    kind: str = "gan"         # gan | cgan | infogan
    x_dim: int = 784          # flattened image size (28 x 28)
    z_dim: int = 100          # noise size
    hidden: int = 128         # the one hidden layer of G and of D
    n_classes: int = 10       # cgan: label classes; infogan: size of the categorical code
    n_cont: int = 2           # infogan: continuous codes

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind = {self.kind!r}: choose one of {', '.join(KINDS)}")
        if min(self.x_dim, self.z_dim, self.hidden, self.n_classes) < 1 or self.n_cont < 0:
            raise ValueError(f"sizes must be positive: x_dim {self.x_dim}, z_dim {self.z_dim}, hidden "
                             f"{self.hidden}, n_classes {self.n_classes}, n_cont {self.n_cont}")

    @property
    def code_dim(self):
        """Extra generator inputs besides the noise."""
        return {"gan": 0, "cgan": self.n_classes, "infogan": self.n_classes + self.n_cont}[self.kind]

    @property
    def label_dim(self):
        """Extra discriminator inputs besides the image (the cgan's one-hot label)."""
        return self.n_classes if self.kind == "cgan" else 0


def init(key, cfg: GANConfig):
    kg, kb, kh, kq = jax.random.split(key, 4)
    d = {"body": layers.dense_init(kb, cfg.x_dim + cfg.label_dim, cfg.hidden, "glorot"),
         "head": layers.dense_init(kh, cfg.hidden, 1, "glorot")}
    if cfg.kind == "infogan":
        d["q"] = layers.dense_init(kq, cfg.hidden, cfg.n_classes + cfg.n_cont, "glorot")
    return {"g": layers.mlp_init(kg, [cfg.z_dim + cfg.code_dim, cfg.hidden, cfg.x_dim], init="glorot"),
            "d": d}


# ------------------------------------------------------------------------------------------ latent
def sample_latent(key, n, cfg: GANConfig, y=None):
    """The generator's inputs for ``n`` images: ``z ~ U(-1, 1)`` and, by kind, the label ``y`` (cgan;
    drawn uniformly when None) or the codes ``cat ~ Cat(K)``, ``cont ~ U(-1, 1)`` (infogan)."""
    kz, kc, kk = jax.random.split(key, 3)
    lat = {"z": jax.random.uniform(kz, (n, cfg.z_dim), jnp.float32, -1.0, 1.0)}
    if cfg.kind == "cgan":
        lat["y"] = jax.random.randint(kc, (n,), 0, cfg.n_classes) if y is None else jnp.asarray(y)
    elif cfg.kind == "infogan":
        lat["cat"] = jax.random.randint(kc, (n,), 0, cfg.n_classes) if y is None else jnp.asarray(y)
        lat["cont"] = jax.random.uniform(kk, (n, cfg.n_cont), jnp.float32, -1.0, 1.0)
    return lat


def generator_input(lat, cfg: GANConfig):
    """``[B, z_dim + code_dim]``: the noise, then the one-hot label or codes."""
    parts = [lat["z"]]
    if cfg.kind == "cgan":
        parts.append(jax.nn.one_hot(lat["y"], cfg.n_classes, dtype=jnp.float32))
    elif cfg.kind == "infogan":
        parts += [jax.nn.one_hot(lat["cat"], cfg.n_classes, dtype=jnp.float32), lat["cont"]]
    return jnp.concatenate(parts, -1)


def generate(g, lat, cfg: GANConfig):
    """Images ``[B, x_dim]`` in [0, 1] from the latent dict of :func:`sample_latent`."""
    return jax.nn.sigmoid(layers.mlp(g, generator_input(lat, cfg)))


def discriminate(d, x, cfg: GANConfig, y=None, *, key=None, dropout=0.0):
    """``(logits [B], q)``: the real-vs-fake logit, and for infogan ``q = (cat_logits [B, K], cont_mean
    [B, C])`` from the shared hidden layer (None otherwise). ``y`` is the cgan's label. ``key`` and
    ``dropout`` drop hidden units while training (Goodfellow et al. trained D with dropout)."""
    if cfg.kind == "cgan":
        x = jnp.concatenate([x, jax.nn.one_hot(y, cfg.n_classes, dtype=x.dtype)], -1)
    h = layers.dropout(key, jax.nn.leaky_relu(layers.dense(d["body"], x), 0.2), dropout)
    logits = layers.dense(d["head"], h)[..., 0]
    q = None
    if cfg.kind == "infogan":
        out = layers.dense(d["q"], h)
        q = (out[..., :cfg.n_classes], out[..., cfg.n_classes:])
    return logits, q


# ------------------------------------------------------------------------------------------ losses
def d_loss(real_logits, fake_logits):
    """The discriminator's binary cross-entropy, real labelled 1 and fake 0 (Goodfellow eq. 1):
    ``-mean log D(x) - mean log(1 - D(G(z)))`` with ``log D = log_sigmoid(l)`` and ``log(1 - D) =
    log_sigmoid(-l)``, exact for any logit."""
    return -jnp.mean(jax.nn.log_sigmoid(real_logits)) - jnp.mean(jax.nn.log_sigmoid(-fake_logits))


def g_loss(fake_logits):
    """The non-saturating generator loss ``-mean log D(G(z))`` (Goodfellow §3: it has strong gradients
    early, when D rejects the samples easily)."""
    return -jnp.mean(jax.nn.log_sigmoid(fake_logits))


def mi_terms(q, cat, cont):
    """InfoGAN's variational mutual-information terms (Chen et al. eq. 4), per batch means:

    ``ce`` = -E log Q(c1 | x), the categorical cross-entropy of the code drawn;
    ``gauss`` = -E log Q(c2 | x) for a unit-variance Gaussian: ``0.5 sum (c2 - mu)^2 + C/2 log 2 pi``.

    ``L_I = H(c) - ce - gauss``, with ``H(c) = log K + C log 2`` for the uniform codes, is the lower
    bound on I(c; G(z, c)) that the generator and Q maximise."""
    cat_logits, cont_mean = q
    ce = jnp.mean(jax.nn.logsumexp(cat_logits, -1)
                  - jnp.take_along_axis(cat_logits, cat[:, None], -1)[:, 0])
    n_cont = cont.shape[-1]
    gauss = jnp.mean(0.5 * jnp.sum((cont - cont_mean) ** 2, -1)) + 0.5 * n_cont * math.log(2 * math.pi)
    return ce, gauss


def mi_loss(q, cat, cont, lam_cat=1.0, lam_cont=1.0):
    """``lam_cat * ce + lam_cont * gauss`` of :func:`mi_terms` (the paper's lambda = 1, the official
    code's ``info_reg_coeff``), minimised by G and by Q (with the shared D body)."""
    ce, gauss = mi_terms(q, cat, cont)
    return lam_cat * ce + lam_cont * gauss
