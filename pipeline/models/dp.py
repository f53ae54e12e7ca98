"""DP-SGD for the critic of the conditional WGAN-GP (`train.privacy`; docs/privacy.md).

Only the critic reads real rows, so a DP critic makes the generator DP by post-processing.
Per critic step (`DPCritic.critic_step`, called from `CTGANModule._gan_step`):

1. Poisson sampling: every training row joins the step with probability q, from a generator
   seeded by (seed, step) that all DDP ranks share; rank r takes every world-th sampled row,
   so each row lands on at most one rank. The sample lives in a fixed-capacity index buffer
   (q*n + 8 standard deviations): no data-dependent shapes, no host sync.
2. Each sampled row i gets a condition from its OWN category of a uniformly drawn discrete
   column, and a fake row generated under the same condition, so the per-row loss
   D(fake_i) - D(real_i) + gp * (||grad_x D(x_hat_i)|| - 1)^2 depends on row i alone.
3. Per-row gradients of that loss, gradient-penalty term included (a second-order term,
   which Opacus' hooks do not capture), in closed form (`dp_grads.py`; torch.func's
   vmap(grad(.)) gives the same numbers 20-60x slower and is the tests' reference).
4. Clip each row's gradient to max_grad_norm, sum, add N(0, (sigma * C)^2) (split over the
   ranks, then all-reduced), divide by the expected batch q*n, step the critic's optimiser.

PacGAN groups would mix rows in one critic input, so DP needs train.pac 1 (config.py).
The category counts behind training-by-sampling and generation are released once with
Gaussian noise (`privatise_sampler`); the accountant composes both (`dp_accounting.py`).
"""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch import Tensor, nn

from pipeline.models import dp_grads
from pipeline.models.dp_accounting import spent
from pipeline.tabular.sampler import ConditionalSampler, _cdf


@torch.no_grad()
def clipped_sum(critic: nn.Module, real: Tensor, fake: Tensor, alpha: Tensor,
                gp_weight: float, weight: Tensor, max_norm: float
                ) -> tuple[dict[str, Tensor], Tensor]:
    """Sum over rows of each row's critic-loss gradient scaled to L2 norm <= max_norm (times
    `weight`: 0 for the padding slots of the sample buffer); and [B, 3] per-row scores."""
    fac, aux = dp_grads.factors(critic, real, fake, alpha, gp_weight)
    factor = (max_norm / (dp_grads.row_norms(fac) + 1e-6)).clamp(max=1.0) * weight
    return dp_grads.weighted_sum(critic, fac, factor), aux


def row_categories(matrix: Tensor, sampler: ConditionalSampler) -> Tensor:
    """[rows, #discrete] category index of every row in every discrete column."""
    if sampler.n_discrete == 0:
        return torch.zeros(matrix.shape[0], 0, dtype=torch.long, device=matrix.device)
    return torch.stack([matrix[:, s:s + w].argmax(1) for s, w in
                        zip(sampler.span_starts, sampler.widths.tolist())], 1)


@torch.no_grad()
def privatise_sampler(sampler: ConditionalSampler, count_noise: float, seed: int) -> None:
    """Replace the sampler's category counts (and cdfs) by a Gaussian release of them.

    Std `count_noise * sqrt(#discrete)` (the L2 sensitivity of the count table), rounded and
    clipped at 0 (post-processing). The real-row lookup tables are neutralised: with DP the
    critic samples rows itself (Poisson) and the sampler only draws conditions.
    """
    if sampler.n_discrete == 0:
        return
    gen = torch.Generator().manual_seed(int(seed) + 7)
    counts = sampler.counts.double().cpu()
    std = count_noise * math.sqrt(sampler.n_discrete)
    noisy = counts + std * torch.randn(counts.shape, generator=gen, dtype=torch.float64)
    valid = torch.arange(counts.shape[1])[None, :] < sampler.widths.cpu()[:, None]
    noisy = torch.where(valid, noisy.round().clamp_min(0), torch.zeros_like(noisy))
    empty = noisy.sum(1) == 0  # a column whose noisy counts all vanished: uniform instead
    noisy[empty] = valid[empty].double()
    device = sampler.counts.device
    sampler.counts = noisy.long().to(device)
    sampler.cdf_log = _cdf(torch.log1p(noisy), sampler.widths.cpu()).to(device)
    sampler.cdf_emp = _cdf(noisy, sampler.widths.cpu()).to(device)
    # rows[offsets + pick] with pick < max count: always index 0, never out of range.
    sampler.rows = torch.zeros(int(noisy.max().item()) + 1, dtype=torch.long, device=device)
    sampler.offsets = torch.zeros_like(sampler.offsets)


class DPCritic(nn.Module):
    """The DP critic update of one CTGANModule (module docstring). No persistent state:
    checkpoints are unchanged; the row categories are a non-persistent buffer."""

    def __init__(self, dp_plan: dict[str, Any], seed: int) -> None:
        super().__init__()
        self.plan = dict(dp_plan)
        self.seed = int(seed)
        self.register_buffer("cats", torch.zeros(0, 0, dtype=torch.long), persistent=False)
        n, q = dp_plan["rows"], dp_plan["sample_rate"]
        self.capacity = min(n, math.ceil(n * q + 8 * math.sqrt(n * q * (1 - q)) + 8))
        self._count = 0
        self._gen: torch.Generator | None = None

    def attach(self, model: Any) -> None:
        """Read what the step needs from the model's training matrix; noise its sampler."""
        self.cats = row_categories(model.data, model.sampler)
        privatise_sampler(model.sampler, self.plan["count_noise"], self.seed)

    def _poisson(self, step: int, rank: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """(row ids, 0/1 weights) of this rank's share of a Poisson sample of the rows."""
        if self._gen is None or self._gen.device != device:
            self._gen = torch.Generator(device=device)
        self._gen.manual_seed((self.seed * 1_000_003 + step) % (2 ** 63))
        n, world = self.plan["rows"], self.plan["world"]
        u = torch.rand(n, generator=self._gen, device=device)
        keys = torch.where(u < self.plan["sample_rate"], u, torch.full_like(u, 2.0))
        vals, idx = torch.topk(keys, self.capacity, largest=False, sorted=False)
        vals, idx = vals[rank::world], idx[rank::world]
        return idx, (vals < 2.0).to(torch.float32)

    def critic_step(self, model: Any, d_opt: Any) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One DP-SGD critic update; (loss_d, penalty, critic_real, critic_fake) on device."""
        h, p = model.hparams, self.plan
        k = self._count % h.critic_steps
        self._count += 1
        rows, weight = self._poisson(model.global_step * h.critic_steps + k, model.global_rank,
                                     model.device)
        sampler = model.sampler
        if sampler.n_discrete:
            column = torch.randint(sampler.n_discrete, rows.shape, device=rows.device)
            cond = sampler.cond_vector(column, self.cats[rows, column])
        else:
            cond = torch.zeros(rows.shape[0], 0, device=rows.device)
        real = torch.cat([model.data[rows], cond], 1)
        with torch.no_grad():
            fake = torch.cat([model._generate(cond)[0], cond], 1)
        alpha = torch.rand(rows.shape[0], 1, device=rows.device)
        summed, aux = clipped_sum(model.critic, real, fake, alpha, h.gp_weight, weight,
                                  p["max_grad_norm"])
        world = p["world"]
        std = p["noise_multiplier"] * p["max_grad_norm"] / math.sqrt(world)
        expected = p["sample_rate"] * p["rows"]
        flat = torch.cat([(g + std * torch.randn_like(g)).reshape(-1) for g in summed.values()])
        if world > 1 and dist.is_available() and dist.is_initialized():
            dist.all_reduce(flat)  # noise shares add up to std * sqrt(world) = sigma * C
        flat = flat / expected
        d_opt.zero_grad(set_to_none=True)
        offset = 0
        for name, param in model.critic.named_parameters():
            size = param.numel()
            param.grad = flat[offset:offset + size].view_as(param).clone()
            offset += size
        d_opt.step()
        d_opt.zero_grad(set_to_none=True)
        taken = weight.sum().clamp_min(1.0)
        s_real, s_fake, penalty = (aux * weight[:, None]).sum(0) / taken
        return s_fake - s_real + h.gp_weight * penalty, penalty, s_real, s_fake


class PrivacyLog(pl.Callback):
    """Logs the epsilon spent so far (host arithmetic, no device sync) at each round's end;
    DVCLive writes it to the train log's metrics.json as `privacy_epsilon`."""

    def __init__(self, dp_plan: dict[str, Any], critic_steps: int) -> None:
        self.plan, self.critic_steps = dp_plan, critic_steps

    def steps_done(self, trainer: pl.Trainer) -> int:
        # global_step counts optimiser steps: critic_steps critic + 1 generator per GAN step
        return trainer.global_step * self.critic_steps // (self.critic_steps + 1)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        eps = spent(self.plan, self.steps_done(trainer))
        pl_module.log_dict({"privacy_epsilon": eps, "privacy_delta": self.plan["delta"]},
                           on_step=False, on_epoch=True, rank_zero_only=True)
