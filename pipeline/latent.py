"""The latent space as a tool: paths between latent points and attribute directions.

Shared by `synth generate --interpolate`, the image generate stage (report grids) and the
API. Model-agnostic: it works on latent tensors; the family decodes them.
"""

from __future__ import annotations

import torch
from torch import Tensor


def seed_latent(dim: int, seed: int, n: int = 1, device: str | torch.device = "cpu") -> Tensor:
    """The `n` latent points a model draws first for `seed` (same draw as sampling)."""
    gen = torch.Generator(device=device).manual_seed(int(seed))
    return torch.randn(n, dim, device=device, generator=gen)


def path(a: Tensor, b: Tensor, steps: int, spherical: bool = True) -> Tensor:
    """`steps` points from `a` to `b` (1-D tensors); endpoints are exactly `a` and `b`.

    Spherical interpolation by default: Gaussian latents concentrate near a sphere, and the
    straight line between two of them passes through low-norm points the generator rarely saw.
    """
    if steps < 2:
        raise ValueError("an interpolation needs at least 2 steps")
    t = torch.linspace(0, 1, steps, device=a.device, dtype=a.dtype)[:, None]
    if spherical:
        cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
        omega = torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
        so = torch.sin(omega)
        out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    else:
        out = (1 - t) * a + t * b
    out[0], out[-1] = a, b
    return out


def direction(z: Tensor, in_a: Tensor) -> Tensor:
    """Attribute direction: mean latent of the samples assigned to A minus those assigned to
    B (`in_a` a boolean mask; B = the rest)."""
    if bool(in_a.all()) or not bool(in_a.any()):
        raise ValueError("attribute direction needs samples in both groups")
    return z[in_a].mean(0) - z[~in_a].mean(0)
