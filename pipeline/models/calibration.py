"""Marginal calibration of a trained generator, fitted once after training, applied at sampling.

A GAN learns the dependence between columns far better than it hits each marginal exactly:
after training its scalar outputs are not quite distributed as the real encoded scalars, and
its categories come out at slightly wrong rates. Both are corrected without touching the
dependence structure:

- every scalar output goes through one monotone map per column, Q_real(F_gen(s)), where F_gen
  is the empirical CDF of the generator's own output and Q_real the quantile function of the
  real encoded column (`knots` quantiles each). A monotone per-column map keeps the rank
  order of rows, so the generator's copula (its pair trends) is unchanged;
- every one-hot span gets a logit offset log(p_real / p_gen), refined over a few rounds, so
  categories (and missing-value rates, and mixture modes) come out at their real rates while
  the generator still decides which rows get which category.

Only marginals of the training matrix are used (what the transformer already stores), so the
calibration reveals nothing about individual rows. Everything is batched torch: searchsorted
over [columns, knots] tables, no Python loop over rows or columns.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def quantile_knots(values: Tensor, knots: int) -> Tensor:
    """[columns, knots] quantiles (probabilities 0..1, evenly spaced) of each column of values."""
    probs = torch.linspace(0.0, 1.0, knots, device=values.device, dtype=torch.float64)
    return torch.quantile(values.double().t().contiguous(), probs, dim=1).t().float().contiguous()


def remap(values: Tensor, source: Tensor, target: Tensor) -> Tensor:
    """Map each column of values [rows, columns] through target(source^-1(v)).

    source/target are [columns, knots] increasing quantile tables on the same probability
    grid: v's fractional rank among the source knots picks the same rank among the target's.
    """
    cols, knots = source.shape
    v = values.t().contiguous()  # [columns, rows]
    hi = torch.searchsorted(source, v).clamp_(1, knots - 1)
    lo = hi - 1
    s_lo, s_hi = source.gather(1, lo), source.gather(1, hi)
    frac = ((v - s_lo) / (s_hi - s_lo).clamp_min(1e-12)).clamp_(0.0, 1.0)
    t_lo, t_hi = target.gather(1, lo), target.gather(1, hi)
    return (t_lo + frac * (t_hi - t_lo)).t()


def onehot_offsets(real_rates: Tensor, sample_rates: Callable[[Tensor], Tensor],
                   onehot_cols: Tensor, width: int, rounds: int = 3,
                   start: Tensor | None = None,
                   on_step: Callable[[Tensor], None] | None = None) -> Tensor:
    """Logit offsets (length `width`, zero outside one-hot columns) that bring the sampled
    rate of every one-hot column to its real rate; `sample_rates(offsets)` draws a batch with
    the offsets applied and returns the per-column mean of the matrix. `on_step` receives each
    round's log-ratio step (length `width`), for state that moves with the offsets."""
    offsets = (torch.zeros(width, device=real_rates.device) if start is None
               else start.clone())
    eps = 1e-4
    for _ in range(rounds):
        rates = sample_rates(offsets)
        step = torch.log(real_rates[onehot_cols] + eps) - torch.log(rates[onehot_cols] + eps)
        offsets[onehot_cols] += step
        if on_step is not None:
            full = torch.zeros(width, device=offsets.device)
            full[onehot_cols] = step
            on_step(full)
    return offsets
