"""CycleGAN (Zhu et al. 2017) as pure functions: two ResNet generators G: A -> B and F: B -> A, two PatchGAN
discriminators D_A and D_B, the least-squares adversarial losses (Mao et al. 2017), the cycle-consistency
and identity losses, and the history pool of generated images (Shrivastava et al. 2017), all over params
pytrees with explicit state and keys.

Images are NHWC in [-1, 1] (a tanh output). Layouts follow the authors' PyTorch code
(``junyanz/pytorch-CycleGAN-and-pix2pix``), scaled down for 28x28 / 32x32 images:

- generator ``c7s1-ngf, d(2 ngf), d(4 ngf), R(4 ngf) x n_res, u(2 ngf), u(ngf), c7s1-C`` (Johnson et al.
  2016): reflection padding, instance norm without affine parameters, ReLU, a residual trunk, tanh;
- discriminator ``C(ndf) [no norm], C(2 ndf), ..., C(ndf 2^L) stride 1, conv -> 1`` of 4x4 convolutions
  with LeakyReLU 0.2: one real/fake score per overlapping patch (a PatchGAN; ``d_layers`` = 2 on 28x28
  gives 5x5 patches of 34x34 receptive field, as the 70x70 PatchGAN is to 256x256 images).

Weights start N(0, 0.02) as in the authors' code (``init_type="normal"``).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxseq.nn.layers import conv2d, conv_init, conv_transpose2d

LRELU_SLOPE = 0.2


@dataclasses.dataclass(frozen=True)
class CycleGANConfig:
    channels: int = 1       # image channels (1 for Fashion-MNIST, 3 for horse2zebra)
    image_size: int = 28    # H = W; a multiple of 2 ** n_down
    ngf: int = 32           # generator width of the first layer
    n_down: int = 2         # stride-2 downsamplings (and as many upsamplings) in the generator
    n_res: int = 3          # residual blocks at the bottleneck
    ndf: int = 32           # discriminator width of the first layer
    d_layers: int = 2       # stride-2 layers of the PatchGAN discriminator

    def __post_init__(self):
        for k in ("channels", "image_size", "ngf", "ndf", "d_layers"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} = {getattr(self, k)}: must be >= 1")
        if self.n_down < 0 or self.n_res < 0:
            raise ValueError(f"n_down = {self.n_down}, n_res = {self.n_res}: must be >= 0")
        if self.image_size % (2 ** self.n_down):
            raise ValueError(f"image_size = {self.image_size}: must be a multiple of 2 ** n_down "
                             f"= {2 ** self.n_down}")
        if self.image_size // 2 ** self.d_layers < 3:
            raise ValueError(f"d_layers = {self.d_layers}: too many for {self.image_size}x"
                             f"{self.image_size} images (the last map would be under 3x3)")


# ------------------------------------------------------------------------------------------ pieces
def instance_norm(x, eps=1e-5):
    """Ulyanov et al. 2016: normalise each image's channel over H and W (biased variance, no affine
    parameters, no running statistics, as CycleGAN's ``InstanceNorm2d``). x: [B, H, W, C]."""
    xf = x.astype(jnp.float32)
    mean = xf.mean((1, 2), keepdims=True)
    var = ((xf - mean) ** 2).mean((1, 2), keepdims=True)
    return ((xf - mean) * jax.lax.rsqrt(var + eps)).astype(x.dtype)


def reflect_pad(x, n):
    """Reflection padding of ``n`` pixels on H and W (PyTorch's ``ReflectionPad2d``). x: [B, H, W, C]."""
    return jnp.pad(x, ((0, 0), (n, n), (n, n), (0, 0)), mode="reflect")


def _conv(key, k, cin, cout):
    return conv_init(key, k, cin, cout, init="dcgan")


# --------------------------------------------------------------------------------------- generator
def generator_init(key, cfg: CycleGANConfig):
    """Params of one ResNet generator (``"inp"``, ``"down"``, ``"res"``, ``"up"``, ``"out"``)."""
    n_keys = 2 + 2 * cfg.n_down + 2 * cfg.n_res
    ks = iter(jax.random.split(key, n_keys))
    p = {"inp": _conv(next(ks), 7, cfg.channels, cfg.ngf), "down": [], "res": [], "up": []}
    ch = cfg.ngf
    for _ in range(cfg.n_down):
        p["down"].append(_conv(next(ks), 3, ch, ch * 2))
        ch *= 2
    for _ in range(cfg.n_res):
        p["res"].append({"c1": _conv(next(ks), 3, ch, ch), "c2": _conv(next(ks), 3, ch, ch)})
    for _ in range(cfg.n_down):
        p["up"].append(_conv(next(ks), 3, ch, ch // 2))   # conv_transpose2d kernel [kh, kw, in, out]
        ch //= 2
    p["out"] = _conv(next(ks), 7, ch, cfg.channels)
    return p


def generator(p, x):
    """x: [B, H, W, C] in [-1, 1] -> [B, H, W, C] in [-1, 1]."""
    h = jax.nn.relu(instance_norm(conv2d(p["inp"], reflect_pad(x, 3))))
    for q in p["down"]:
        h = jax.nn.relu(instance_norm(conv2d(q, h, stride=2, padding=1)))
    for q in p["res"]:
        r = jax.nn.relu(instance_norm(conv2d(q["c1"], reflect_pad(h, 1))))
        h = h + instance_norm(conv2d(q["c2"], reflect_pad(r, 1)))
    for q in p["up"]:
        h = jax.nn.relu(instance_norm(conv_transpose2d(q, h, stride=2, padding=1, output_padding=1)))
    return jnp.tanh(conv2d(p["out"], reflect_pad(h, 3)))


# ----------------------------------------------------------------------------------- discriminator
def discriminator_init(key, cfg: CycleGANConfig):
    """Params of one PatchGAN discriminator: a list of 4x4 convolutions."""
    ks = jax.random.split(key, cfg.d_layers + 2)
    chans = [cfg.channels] + [cfg.ndf * 2 ** i for i in range(cfg.d_layers + 1)] + [1]
    return [_conv(k, 4, a, b) for k, a, b in zip(ks, chans[:-1], chans[1:])]


def discriminator(p, x):
    """x: [B, H, W, C] -> patch scores [B, H', W'] (unbounded: the least-squares loss takes them as they
    are). Stride 2 for all but the last two layers; no norm on the first."""
    h = x
    for i, q in enumerate(p[:-1]):
        h = conv2d(q, h, stride=2 if i < len(p) - 2 else 1, padding=1)
        h = jax.nn.leaky_relu(h if i == 0 else instance_norm(h), LRELU_SLOPE)
    return conv2d(p[-1], h, stride=1, padding=1)[..., 0]


def init(key, cfg: CycleGANConfig):
    """``{"g_ab", "g_ba", "d_a", "d_b"}``: G (A -> B), F (B -> A), D_A (judges domain A), D_B."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return {"g_ab": generator_init(k1, cfg), "g_ba": generator_init(k2, cfg),
            "d_a": discriminator_init(k3, cfg), "d_b": discriminator_init(k4, cfg)}


# ------------------------------------------------------------------------------------------ losses
def lsgan_d_loss(real_scores, fake_scores):
    """Least-squares discriminator loss, halved as in the authors' code: ``0.5 [E(D(real) - 1)^2 +
    E D(fake)^2]`` (CycleGAN §4, Eq. 2 with the LSGAN objective)."""
    return 0.5 * (jnp.mean((real_scores - 1.0) ** 2) + jnp.mean(fake_scores ** 2))


def lsgan_g_loss(fake_scores):
    """Least-squares generator loss ``E (D(G(x)) - 1)^2``."""
    return jnp.mean((fake_scores - 1.0) ** 2)


def l1(a, b):
    """Mean absolute difference (the cycle and identity losses, Eq. 2 and §5.2)."""
    return jnp.mean(jnp.abs(a - b))


def generator_losses(g_params, d_params, real_a, real_b, *, lambda_cyc=10.0, lambda_id=0.5):
    """Both generators' objective (Eq. 3 plus the identity term): ``(total, parts, fakes)``.

    ``lambda_id`` is relative to ``lambda_cyc`` as in the authors' code (0.5 -> identity weight 5).
    ``fakes = (fake_a, fake_b)`` are handed to the discriminator step. real_a, real_b: [B, H, W, C].
    """
    fake_b = generator(g_params["g_ab"], real_a)
    fake_a = generator(g_params["g_ba"], real_b)
    rec_a = generator(g_params["g_ba"], fake_b)
    rec_b = generator(g_params["g_ab"], fake_a)
    parts = {"g_adv_ab": lsgan_g_loss(discriminator(d_params["d_b"], fake_b)),
             "g_adv_ba": lsgan_g_loss(discriminator(d_params["d_a"], fake_a)),
             "cycle_a": lambda_cyc * l1(rec_a, real_a),
             "cycle_b": lambda_cyc * l1(rec_b, real_b)}
    if lambda_id > 0:
        parts["idt_a"] = lambda_cyc * lambda_id * l1(generator(g_params["g_ba"], real_a), real_a)
        parts["idt_b"] = lambda_cyc * lambda_id * l1(generator(g_params["g_ab"], real_b), real_b)
    total = sum(parts.values())
    return total, parts, (fake_a, fake_b)


def discriminator_losses(d_params, real_a, real_b, fake_a, fake_b):
    """``(D_A loss + D_B loss, parts)``; the fakes (from the pool) carry no gradient."""
    fake_a, fake_b = jax.lax.stop_gradient(fake_a), jax.lax.stop_gradient(fake_b)
    parts = {"d_a": lsgan_d_loss(discriminator(d_params["d_a"], real_a),
                                 discriminator(d_params["d_a"], fake_a)),
             "d_b": lsgan_d_loss(discriminator(d_params["d_b"], real_b),
                                 discriminator(d_params["d_b"], fake_b))}
    return parts["d_a"] + parts["d_b"], parts


# ----------------------------------------------------------------------------------- history pool
def pool_init(size, image_shape):
    """An empty pool of ``size`` images ``image_shape`` = (H, W, C): ``{"images", "count"}`` (size 0: only
    ``{"count"}``, since a checkpoint cannot hold a zero-size array)."""
    if size == 0:
        return {"count": jnp.zeros((), jnp.int32)}
    return {"images": jnp.zeros((size, *image_shape), jnp.float32), "count": jnp.zeros((), jnp.int32)}


def pool_query(pool, images, key):
    """The authors' ``ImagePool.query`` as a pure function: ``(images to show D, new pool)``.

    Per image: while the pool is filling, store it and show it; once full, with probability 1/2 show a
    random stored image and store the new one in its place, else show the new one. A pool of size 0
    passes the images through. images: [B, H, W, C].
    """
    if "images" not in pool:
        return images, pool
    size = pool["images"].shape[0]
    images = jax.lax.stop_gradient(images).astype(jnp.float32)

    def one(carry, xs):
        stored, count = carry
        img, k = xs
        ku, kj = jax.random.split(k)
        filling = count < size
        swap = jax.random.uniform(ku) > 0.5
        j = jnp.where(filling, count, jax.random.randint(kj, (), 0, size))
        old = stored[j]
        out = jnp.where(~filling & swap, old, img)
        stored = stored.at[j].set(jnp.where(filling | swap, img, old))
        return (stored, count + filling.astype(jnp.int32)), out

    (stored, count), out = jax.lax.scan(one, (pool["images"], pool["count"]),
                                        (images, jax.random.split(key, images.shape[0])))
    return out, {"images": stored, "count": count}
