"""A fused LSTM recurrence in one GPU launch, written with Pallas (Triton lowering). Experimental.

What it computes is exactly :func:`jaxseq.nn.scan.run` with the :data:`~jaxseq.nn.cells.LSTM` cell (no
layer norm, no recurrent dropout): given the hoisted input projection ``xp = x W_x + b`` it runs the
``T`` dependent steps ``gates = xp_t + h_{t-1} W_h``; ``c, h`` update; mask (frozen carry past a
sequence's end); optional reverse time order.

**Design: a persistent, column-split kernel with a software grid barrier.** The per-step matmul
``[B, H] x [H, 4H]`` is split over ``P = ceil(H / U)`` programs, each owning ``U`` hidden units (the
i, f, g, o columns of those units), and, for a large batch, over ``G`` batch groups. Each program loops
over all ``T`` steps inside the kernel (``lax.fori_loop``); its cell state ``c`` stays in registers.
Every step a program needs the *whole* ``h_{t-1}``, written by all ``P`` programs of its batch group, so
the programs exchange ``h`` through a small double-buffered global (L2-resident) buffer and meet at a
grid barrier built from an atomic counter (``atomic_add`` on a monotonic counter + a spin loop reading it
through an atomic). One launch replaces the scan's several launches and its global round trips per step.

Why not "W_h resident in shared memory of one SM": ``W_h`` is ``H x 4H`` = 2.56 MB in float32 and
1.28 MB in bfloat16 for H = 400, and one Hopper SM has 228 KB of shared memory. A single program that
owns the whole batch row-block must stream all of ``W_h`` from L2 every step (~20 us at one SM's L2
bandwidth), slower than the scan. Splitting the columns over ``P`` programs gives each a
``4 x H x U`` slice (e.g. 64 KB in bf16 for U = 16), which it can hold in registers across steps
(``w_resident=True``) or re-read from L2 each step; the price is the barrier and the ``h`` exchange.

**Limits.**

- GPUs only (Triton lowering: NVIDIA compute capability >= 8.0; written for Hopper, H100/H200). On other
  back ends :func:`supported` is False and callers use the scan. ``interpret=True`` runs the same kernel
  through Pallas' interpreter on any back end (tests use it on the CPU).
- The grid barrier assumes that all ``G * P`` programs are resident at once. Triton gives no such
  guarantee; the wrapper keeps ``G * P`` at or under the device's SM count, and the spin loop gives up
  after ``SPIN_CAP`` polls and releases every later barrier of its group (the result is then wrong,
  never a hang; the benchmark checks values and the counter). A GPU shared through MPS with other
  processes may delay the residency of some programs (the others spin meanwhile). In interpreter mode the
  programs run one after another, so a grid of more than one program per batch group only works for
  ``T = 1`` (the tests use that to check the indexing).
- Shapes: any ``B``, ``H``; the batch is padded to a power of two >= 16 (``Bt`` rows per group), ``H``
  to a multiple of ``U`` (U a power of two >= 16) and the contraction to a power of two. Larger padding
  costs proportionally. Float32 (TF32 matmul, as XLA's default on GPU) or bfloat16 weights (bf16
  operands, float32 accumulation and gate math, as :mod:`jaxseq.nn.precision`).
- Backward: a ``custom_vjp``. The forward kernel saves the carries (h, c per step); the gate
  activations are recomputed outside in one big matmul, then a reverse-time twin of the kernel
  (:func:`_bwd_kernel`, same grid and barrier) runs the recurrence ``dh_{t-1} = dA_t W_h^T``,
  exchanging the gate gradients dA (4H wide, so 4x the forward's exchange); ``dW_h`` is one big matmul
  after it. ``bwd_kernel=False`` uses a hand-written reverse ``lax.scan`` instead (one
  ``[B, 4H] x [4H, H]`` matmul per step).
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

try:  # the Triton-specific primitives (atomics, cache modifiers); present in jax 0.4.3x .. 0.11
    from jax.experimental.pallas import triton as plgpu
except ImportError:  # pragma: no cover - a jax without Pallas/Triton
    plgpu = None

SPIN_CAP = 1 << 18  # polls of the barrier counter before a program gives up (no hang, wrong result)
ABORT = 1 << 30  # a program that gave up raises its group's counter to this: every later barrier passes


def _pow2(n, lo=1):
    return max(lo, 1 << max(0, math.ceil(math.log2(max(1, n)))))


def supported(params, *, dropout_mask=None, backend=None) -> bool:
    """True where the fused kernel can run: a plain LSTM layer (no layer norm, no recurrent dropout) on
    a CUDA GPU with Pallas' Triton lowering available."""
    if plgpu is None or dropout_mask is not None or "ln_g_scale" in params:
        return False
    backend = backend or jax.default_backend()
    return backend in ("gpu", "cuda")


# (predicate over (T, B, H, weight dtype), lstm_run keywords) for the shapes where the kernel was
# measured faster than the scan on an H100; empty until a measurement shows a win (docs/benchmarks.md,
# "Fused LSTM kernel (Pallas)").
AUTO_RULES: tuple = ()


def auto_config(xp_shape, w_dtype):
    """The :func:`lstm_run` keywords :func:`jaxseq.nn.scan.run` uses by itself for this shape on a GPU,
    or None: keep the scan."""
    T, B, G4 = xp_shape
    for rule, kw in AUTO_RULES:
        if rule(T, B, G4 // 4, jnp.dtype(w_dtype)):
            return dict(kw)
    return None


def _sm_count():
    try:
        return int(getattr(jax.devices()[0], "core_count", 0)) or 132
    except Exception:  # pragma: no cover
        return 132


def _config(B, H, units, batch_tile):
    U = _pow2(units, 16)
    Hu = -(-H // U) * U
    P = Hu // U
    Hk = _pow2(Hu, 16)  # contraction width of the in-kernel dot (power of two)
    Bp = _pow2(B, 16)
    Bt = min(Bp, _pow2(batch_tile, 16)) if batch_tile else Bp
    G = Bp // Bt
    return U, Hu, P, Hk, Bp, Bt, G


def _load_l2(ref):
    """A load that bypasses L1 (the data was written by other programs of this launch)."""
    try:
        return plgpu.load(ref, volatile=True)
    except TypeError:  # pragma: no cover - a Pallas without the flag
        return plgpu.load(ref, cache_modifier=".cg")


def _barrier(ctr_ref, g, target, poll):
    """All P programs of batch group g meet here: count in, spin until the count reaches ``target``.

    The stores of this step are ordered before the count by the CTA barrier plus the atomic's
    acquire-release semantics at GPU scope (the pattern of CUDA's cooperative grid sync); readers then
    load the exchanged data past L1 (:func:`_load_l2`). ``poll``: "atomic" reads the counter with
    atomic adds of 0; "volatile" with plain L2 loads, then one atomic (acquire) at the end."""
    plgpu.debug_barrier()  # every thread of this program has issued its stores
    plgpu.atomic_add(ctr_ref, g, jnp.int32(1))

    def cond(carry):
        v, i = carry
        return (v < target) & (i < SPIN_CAP)

    if poll == "volatile":  # plain L2 reads while waiting, one atomic (acquire) after
        def body(carry):
            return _load_l2(ctr_ref.at[g]), carry[1] + 1
    else:
        def body(carry):
            return plgpu.atomic_add(ctr_ref, g, jnp.int32(0)), carry[1] + 1

    _, polls = lax.while_loop(cond, body, (plgpu.atomic_add(ctr_ref, g, jnp.int32(0)), jnp.int32(0)))

    @pl.when(polls >= SPIN_CAP)
    def _():  # give up for the whole group: one timeout, not one per step
        plgpu.atomic_max(ctr_ref, g, jnp.int32(ABORT))

    if poll == "volatile":
        plgpu.atomic_add(ctr_ref, g, jnp.int32(0))
    plgpu.debug_barrier()


def _fwd_kernel(xp_ref, m_ref, h0_ref, c0_ref, w_ref, ctr_in, ex_in, hs_ref, cs_ref, ctr_ref, ex_ref, *,
                T, U, P, Bt, Kc, nk, reverse, masked, w_resident, sync, poll):
    del ctr_in, ex_in  # aliased to ctr_ref / ex_ref
    g = pl.program_id(0)
    p = pl.program_id(1)
    rows = pl.ds(g * Bt, Bt)
    cols = pl.ds(p * U, U)

    def load_w():  # [gate][k-chunk] -> [Kc, U]
        return [[w_ref[k, pl.ds(j * Kc, Kc), cols] for j in range(nk)] for k in range(4)]

    w_res = load_w() if w_resident else None

    def step(s, carry):
        c, h_own = carry
        te = (T - 1 - s) if reverse else s
        if sync:
            @pl.when(s > 0)
            def _():
                _barrier(ctr_ref, g, s * P, poll)
        ws = w_res if w_resident else load_w()
        a = [xp_ref[te, rows, k, cols].astype(jnp.float32) for k in range(4)]
        slot = lax.rem(s, 2)
        for j in range(nk):  # the contraction in chunks: bounded registers for h
            hj = _load_l2(ex_ref.at[slot, rows, pl.ds(j * Kc, Kc)])
            a = [a[k] + jnp.dot(hj, ws[k][j], preferred_element_type=jnp.float32) for k in range(4)]
        i, f, gg, o = (jax.nn.sigmoid(a[0]), jax.nn.sigmoid(a[1]), jnp.tanh(a[2]),
                       jax.nn.sigmoid(a[3]))
        c_new = f * c + i * gg
        h_new = o * jnp.tanh(c_new)
        if masked:
            keep = m_ref[te, rows, :] > 0  # [Bt, 1]
            c_new = jnp.where(keep, c_new, c)
            h_new = jnp.where(keep, h_new, h_own)
        hs_ref[te, rows, cols] = h_new
        cs_ref[te, rows, cols] = c_new
        ex_ref[lax.rem(s + 1, 2), rows, cols] = h_new.astype(ex_ref.dtype)
        return c_new, h_new

    lax.fori_loop(0, T, step, (c0_ref[rows, cols], h0_ref[rows, cols]))


def _forward(xp, mask, h0, c0, wh, *, reverse, units, batch_tile, w_resident, interpret, num_warps,
             k_chunk=128, poll="atomic", f16_operands=False, with_counter=False):
    """xp: [T, B, 4H] (time-major, bias included); mask [T, B] or None; h0, c0 [B, H]; wh [H, 4H].
    Returns (hs, cs): the carries after every step, [T, B, H] float32, in natural time order (and the
    barrier counters [G] with ``with_counter``: (T - 1) * P each, >= ABORT where a barrier gave up).
    ``f16_operands`` (float32 weights only): the recurrent matmul's operands (W_h and the exchanged h)
    in float16 instead of TF32: the same 11 significant bits as TF32 for |h| < 1 and weights in
    [6e-5, 65504], at half the bytes, registers for the weights and twice the tensor-core rate."""
    T, B, G4 = xp.shape
    H = G4 // 4
    U, Hu, P, Hk, Bp, Bt, G = _config(B, H, units, batch_tile)
    if not interpret and G * P > _sm_count():
        raise ValueError(f"fused LSTM grid {G}x{P} exceeds the {_sm_count()} SMs; raise units or "
                         f"batch_tile")
    if interpret and P > 1 and T > 1:
        raise ValueError("interpret mode runs programs one after another: P > 1 needs T == 1")
    wdt = jnp.float16 if (f16_operands and wh.dtype == jnp.float32) else wh.dtype
    xp4 = xp.reshape(T, B, 4, H)
    if Bp != B or Hu != H:
        xp4 = jnp.pad(xp4, ((0, 0), (0, Bp - B), (0, 0), (0, Hu - H)))
    w4 = jnp.transpose(wh.astype(wdt).reshape(H, 4, H), (1, 0, 2))  # [4, H_in, H_out]
    w4 = jnp.pad(w4, ((0, 0), (0, Hk - H), (0, Hu - H)))
    m = jnp.ones((T, Bp, 1), jnp.float32) if mask is None else jnp.pad(
        mask.astype(jnp.float32), ((0, 0), (0, Bp - B)))[..., None]
    c0p = jnp.pad(c0.astype(jnp.float32), ((0, Bp - B), (0, Hu - H)))
    h0p = jnp.pad(h0.astype(jnp.float32), ((0, Bp - B), (0, Hu - H)))
    ex = jnp.zeros((2, Bp, Hk), wdt).at[0, :B, :H].set(h0.astype(wdt))
    ctr = jnp.zeros((G,), jnp.int32)
    Kc = min(Hk, _pow2(k_chunk, 16))
    kernel = functools.partial(_fwd_kernel, T=T, U=U, P=P, Bt=Bt, Kc=Kc, nk=Hk // Kc, reverse=reverse,
                               masked=mask is not None, w_resident=w_resident,
                               sync=P > 1 and not interpret, poll=poll)
    kw = {}
    if not interpret:
        params_cls = getattr(plgpu, "CompilerParams", None) or getattr(plgpu, "TritonCompilerParams")
        kw["compiler_params"] = params_cls(num_warps=num_warps, num_stages=1)
    hs, cs, ctr, _ = pl.pallas_call(
        kernel,
        out_shape=(jax.ShapeDtypeStruct((T, Bp, Hu), jnp.float32),
                   jax.ShapeDtypeStruct((T, Bp, Hu), jnp.float32),
                   jax.ShapeDtypeStruct(ctr.shape, ctr.dtype),
                   jax.ShapeDtypeStruct(ex.shape, ex.dtype)),
        grid=(G, P),
        input_output_aliases={5: 2, 6: 3},
        interpret=interpret,
        **kw,
    )(xp4, m, h0p, c0p, w4, ctr, ex)
    if with_counter:
        return hs[:, :B, :H], cs[:, :B, :H], ctr
    return hs[:, :B, :H], cs[:, :B, :H]


def _prev(seq, first, reverse):
    """The carry before each step, in natural time order: h0 then seq[:-1] (or seq[1:] then h0)."""
    if reverse:
        return jnp.concatenate([seq[1:], first[None]], axis=0)
    return jnp.concatenate([first[None], seq[:-1]], axis=0)


def _backward(res, g, *, reverse):
    """VJP of (hs, cs) w.r.t. (xp, h0, c0, wh) given the saved carries: one reverse lax.scan whose body
    is the cell's elementwise backward plus one [B,4H]x[4H,H] matmul; the gate recomputation and dW are
    single matmuls outside the loop."""
    xp, mask, h0, c0, wh, hs, cs = res
    dhs, dcs = g
    T, B, G4 = xp.shape
    H = G4 // 4
    hprev = _prev(hs, h0.astype(jnp.float32), reverse)
    cprev = _prev(cs, c0.astype(jnp.float32), reverse)
    a = xp.astype(jnp.float32) + jnp.dot(hprev.astype(wh.dtype), wh,
                                         preferred_element_type=jnp.float32)
    ai, af, ag, ao = jnp.split(a, 4, axis=-1)
    i, f, gg, o = jax.nn.sigmoid(ai), jax.nn.sigmoid(af), jnp.tanh(ag), jax.nn.sigmoid(ao)
    tc = jnp.tanh(cs)
    m = jnp.ones((T, B), jnp.float32) if mask is None else mask.astype(jnp.float32)
    whT = wh.T

    def body(carry, inp):
        dh_n, dc_n = carry  # gradient reaching this step's outputs from later steps
        dh_s, dc_s, i_, f_, g_, o_, tc_, cp_, m_ = inp
        keep = m_[:, None] > 0
        dh = dh_n + dh_s
        dc = dc_n + dc_s
        do = dh * tc_
        dct = dc + dh * o_ * (1.0 - tc_ * tc_)
        di, df, dg = dct * g_, dct * cp_, dct * i_
        da = jnp.concatenate([di * i_ * (1.0 - i_), df * f_ * (1.0 - f_), dg * (1.0 - g_ * g_),
                              do * o_ * (1.0 - o_)], axis=-1)
        da = jnp.where(keep, da, 0.0)
        dh_p = jnp.dot(da.astype(wh.dtype), whT, preferred_element_type=jnp.float32)
        dc_p = dct * f_
        return (jnp.where(keep, dh_p, dh), jnp.where(keep, dc_p, dc)), da

    zero = jnp.zeros((B, H), jnp.float32)
    (dh0, dc0), da = lax.scan(body, (zero, zero),
                              (dhs, dcs, i, f, gg, o, tc, cprev, m), reverse=not reverse)
    dwh = jnp.dot(hprev.reshape(T * B, H).astype(wh.dtype).T, da.reshape(T * B, G4).astype(wh.dtype),
                  preferred_element_type=jnp.float32).astype(wh.dtype)
    return (da.astype(xp.dtype), None if mask is None else jnp.zeros_like(mask),
            dh0.astype(h0.dtype), dc0.astype(c0.dtype), dwh)


def _bwd_kernel(act_ref, tc_ref, cp_ref, dhs_ref, dcs_ref, m_ref, wt_ref, ctr_in, ex_in,
                da_ref, dh0_ref, dc0_ref, ctr_ref, ex_ref, *, T, U, P, Bt, Kc, nk, Hk, reverse, sync, poll):
    """Reverse-time twin of :func:`_fwd_kernel`: each program owns U hidden units, computes their gate
    gradients dA [Bt, 4, U] per step, publishes them through the exchange buffer and, after the grid
    barrier, forms its slice of ``dh_{t-1} = dA W_h^T`` from every program's dA."""
    del ctr_in, ex_in
    g = pl.program_id(0)
    p = pl.program_id(1)
    rows = pl.ds(g * Bt, Bt)
    cols = pl.ds(p * U, U)
    wdt = wt_ref.dtype

    def recurrent(s):  # dA (published at step s - 1) times W_h^T, our columns
        if sync:
            _barrier(ctr_ref, g, s * P, poll)
        slot = lax.rem(s, 2)
        acc = jnp.zeros((Bt, U), jnp.float32)
        for k in range(4):
            for j in range(nk):
                dj = _load_l2(ex_ref.at[slot, rows, pl.ds(k * Hk + j * Kc, Kc)])
                acc = acc + jnp.dot(dj, wt_ref[k, pl.ds(j * Kc, Kc), cols],
                                    preferred_element_type=jnp.float32)
        return acc

    def step(s, carry):
        dh_prev, keep_prev, dc_n = carry
        te = s if reverse else T - 1 - s
        dh_n = lax.cond(s > 0, lambda: jnp.where(keep_prev > 0, recurrent(s), dh_prev),
                        lambda: jnp.zeros((Bt, U), jnp.float32))
        keep = m_ref[te, rows, :]  # [Bt, 1]
        dh = dh_n + dhs_ref[te, rows, cols]
        dc = dc_n + dcs_ref[te, rows, cols]
        i, f, gg, o = (act_ref[te, rows, k, cols] for k in range(4))
        tc = tc_ref[te, rows, cols]
        dct = dc + dh * o * (1.0 - tc * tc)
        da = [dct * gg * i * (1.0 - i), dct * cp_ref[te, rows, cols] * f * (1.0 - f),
              dct * i * (1.0 - gg * gg), dh * tc * o * (1.0 - o)]
        on = keep > 0
        nxt = lax.rem(s + 1, 2)
        for k in range(4):
            dak = jnp.where(on, da[k], 0.0)
            da_ref[te, rows, k, cols] = dak
            ex_ref[nxt, rows, pl.ds(k * Hk + p * U, U)] = dak.astype(wdt)
        return dh, keep, jnp.where(on, dct * f, dc)

    zero = jnp.zeros((Bt, U), jnp.float32)
    dh_last, keep_last, dc_n = lax.fori_loop(0, T, step, (zero, jnp.zeros((Bt, 1), jnp.float32), zero))
    dh0_ref[rows, cols] = jnp.where(keep_last > 0, recurrent(T), dh_last)
    dc0_ref[rows, cols] = dc_n


def _backward_fused(res, g, *, reverse, units, batch_tile, interpret, num_warps, k_chunk=128,
                    poll="atomic", **unused):
    """Like :func:`_backward`, with the reverse-time loop in one launch (:func:`_bwd_kernel`)."""
    xp, mask, h0, c0, wh, hs, cs = res
    dhs, dcs = g
    T, B, G4 = xp.shape
    H = G4 // 4
    U, Hu, P, Hk, Bp, Bt, G = _config(B, H, units, batch_tile)
    if interpret and P > 1:
        raise ValueError("interpret mode runs programs one after another: the backward needs P == 1")
    hprev = _prev(hs, h0.astype(jnp.float32), reverse)
    cprev = _prev(cs, c0.astype(jnp.float32), reverse)
    a = (xp.astype(jnp.float32) + jnp.dot(hprev.astype(wh.dtype), wh, preferred_element_type=jnp.float32)
         ).reshape(T, B, 4, H)
    act = jnp.concatenate([jax.nn.sigmoid(a[:, :, :2]), jnp.tanh(a[:, :, 2:3]),
                           jax.nn.sigmoid(a[:, :, 3:])], axis=2)

    def pad(x):  # [T, B, ..., H] -> [T, Bp, ..., Hu]
        return jnp.pad(x, ((0, 0), (0, Bp - B)) + ((0, 0),) * (x.ndim - 3) + ((0, Hu - H),))

    m = jnp.ones((T, Bp, 1), jnp.float32) if mask is None else jnp.pad(
        mask.astype(jnp.float32), ((0, 0), (0, Bp - B)))[..., None]
    wt = jnp.transpose(wh.reshape(H, 4, H), (1, 2, 0))  # [4, H_out (u), H_in (j)]
    wt = jnp.pad(wt, ((0, 0), (0, Hk - H), (0, Hu - H)))
    ex = jnp.zeros((2, Bp, 4 * Hk), wh.dtype)  # gate-major: [i | f | g | o], each Hk wide
    ctr = jnp.zeros((G,), jnp.int32)
    Kc = min(Hk, _pow2(k_chunk, 16))
    kernel = functools.partial(_bwd_kernel, T=T, U=U, P=P, Bt=Bt, Kc=Kc, nk=Hk // Kc, Hk=Hk,
                               reverse=reverse, sync=P > 1 and not interpret, poll=poll)
    kw = {}
    if not interpret:
        params_cls = getattr(plgpu, "CompilerParams", None) or getattr(plgpu, "TritonCompilerParams")
        kw["compiler_params"] = params_cls(num_warps=num_warps, num_stages=1)
    da, dh0, dc0, _, _ = pl.pallas_call(
        kernel,
        out_shape=(jax.ShapeDtypeStruct((T, Bp, 4, Hu), jnp.float32),
                   jax.ShapeDtypeStruct((Bp, Hu), jnp.float32),
                   jax.ShapeDtypeStruct((Bp, Hu), jnp.float32),
                   jax.ShapeDtypeStruct(ctr.shape, ctr.dtype),
                   jax.ShapeDtypeStruct(ex.shape, ex.dtype)),
        grid=(G, P),
        input_output_aliases={7: 3, 8: 4},
        interpret=interpret,
        **kw,
    )(pad(act), pad(jnp.tanh(cs)), pad(cprev), pad(dhs.astype(jnp.float32)),
      pad(dcs.astype(jnp.float32)), m, wt, ctr, ex)
    da = da[:, :B, :, :H].reshape(T, B, G4)
    dwh = jnp.dot(hprev.reshape(T * B, H).astype(wh.dtype).T, da.reshape(T * B, G4).astype(wh.dtype),
                  preferred_element_type=jnp.float32).astype(wh.dtype)
    return (da.astype(xp.dtype), None if mask is None else jnp.zeros_like(mask),
            dh0[:B, :H].astype(h0.dtype), dc0[:B, :H].astype(c0.dtype), dwh)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _carries(xp, mask, h0, c0, wh, cfg):
    return _forward(xp, mask, h0, c0, wh, **_fwd_cfg(cfg))


def _fwd_cfg(cfg):
    return {k: v for k, v in cfg if k != "bwd_kernel"}


def _carries_fwd(xp, mask, h0, c0, wh, cfg):
    hs, cs = _forward(xp, mask, h0, c0, wh, **_fwd_cfg(cfg))
    return (hs, cs), (xp, mask, h0, c0, wh, hs, cs)


def _carries_bwd(cfg, res, g):
    cfg = dict(cfg)
    if cfg.pop("bwd_kernel"):
        return _backward_fused(res, g, **cfg)
    return _backward(res, g, reverse=cfg["reverse"])


_carries.defvjp(_carries_fwd, _carries_bwd)


def lstm_run(params, xp, *, mask=None, carry=None, reverse=False, units=None, batch_tile=None,
             w_resident=None, interpret=False, num_warps=4, k_chunk=128, bwd_kernel=True,
             poll="atomic", f16_operands=False):
    """The LSTM recurrence over a time-major projected input ``xp [T, B, 4H]``.

    Same contract as :func:`jaxseq.nn.scan.run` after its projection: returns ``(ys [T, B, H],
    (h, c))`` with ``ys`` zero at masked steps and the carry frozen there. ``units`` hidden units per
    program (default 16 on a GPU; all of ``H`` in interpreter mode, one program per batch group),
    ``batch_tile`` rows per batch group (default: the whole padded batch), ``w_resident`` keeps each
    program's weight slice in registers across steps (default: only for 2-byte weights), ``num_warps``
    per program, ``k_chunk`` the contraction chunk of the in-kernel matmul (bounds registers);
    ``bwd_kernel`` runs the backward as the fused reverse-time kernel (else a ``lax.scan``); ``poll``
    how the grid barrier waits (see :func:`_barrier`); ``f16_operands`` see :func:`_forward` (forward
    kernel only; opt-in).
    """
    wh = params["wh"]
    T, B, _ = xp.shape
    H = wh.shape[0]
    if units is None:
        units = H if interpret else 16
    if carry is None:
        carry = (jnp.zeros((B, H), jnp.float32), jnp.zeros((B, H), jnp.float32))
    h0, c0 = carry
    if w_resident is None:
        w_resident = jnp.dtype(wh.dtype).itemsize == 2 or bool(f16_operands)
    if mask is not None:
        mask = mask.astype(jnp.float32)
    cfg = (("reverse", bool(reverse)), ("units", int(units)),
           ("batch_tile", None if batch_tile is None else int(batch_tile)),
           ("w_resident", bool(w_resident)), ("interpret", bool(interpret)),
           ("num_warps", int(num_warps)), ("k_chunk", int(k_chunk)), ("bwd_kernel", bool(bwd_kernel)),
           ("poll", str(poll)), ("f16_operands", bool(f16_operands)))
    hs, cs = _carries(xp, mask, h0, c0, wh, cfg)
    last = 0 if reverse else T - 1
    final = (hs[last], cs[last])
    ys = hs if mask is None else hs * mask[..., None]
    return ys, final
