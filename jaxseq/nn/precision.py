"""Optional mixed precision: compute in bfloat16, keep gate math and losses in float32.

A :class:`Policy` names the dtype used for the big matmuls. Master params stay float32 (the optimizer
updates those); inside the loss, ``cast_params(params, policy)`` makes a compute copy. The cells cast
their inputs and hidden state to the weight dtype for the matmuls, then upcast the pre-activations with
:func:`at_least_f32`, and the mixture/softmax losses upcast their logits the same way, so a loss is
float32 under either policy::

    policy = get_policy("bfloat16")
    def loss_fn(params, batch, key, step):
        p = cast_params(params, policy)     # bf16 weights for the matmuls
        ...                                 # the loss comes out float32
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

POLICIES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


@dataclasses.dataclass(frozen=True)
class Policy:
    compute_dtype: Any = jnp.float32

    @property
    def name(self) -> str:
        return jnp.dtype(self.compute_dtype).name

    def cast_to_compute(self, tree):
        """Floating leaves of ``tree`` in the compute dtype (integers, e.g. token ids, untouched)."""
        return _cast_floats(tree, self.compute_dtype)

    def cast_to_output(self, tree):
        """Floating leaves back to float32 (losses, metrics, sampled values)."""
        return _cast_floats(tree, jnp.float32)


def _cast_floats(tree, dtype):
    def cast(x):
        x = jnp.asarray(x)
        return x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x
    return jax.tree_util.tree_map(cast, tree)


def cast_params(params, policy: Policy):
    """A compute copy of ``params`` (floating leaves in ``policy.compute_dtype``). Differentiable: the
    gradient with respect to the float32 master params flows back through the cast."""
    return policy.cast_to_compute(params)


def get_policy(name: str = "float32") -> Policy:
    """``"float32"`` (default) or ``"bfloat16"`` (also accepts ``"f32"``, ``"bf16"``)."""
    key = {"f32": "float32", "fp32": "float32", "bf16": "bfloat16"}.get(name.lower(), name.lower())
    if key not in POLICIES:
        raise ValueError(f"unknown precision {name!r}; choose one of {sorted(POLICIES)}")
    return Policy(POLICIES[key])


def at_least_f32(x):
    """Upcast half-precision arrays to float32; float32 and float64 pass unchanged (so float64 gradient
    checks in tests stay float64)."""
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))
