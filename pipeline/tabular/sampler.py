"""Conditional vector and training-by-sampling (Xu et al. 2019), vectorised on the device.

A draw picks a discrete column uniformly, a category of it (by log-frequency for training, by
empirical frequency for unconditional generation) and, for training, a real row holding that
category. Everything is a table lookup on registered buffers, so `.to(device)` moves the
sampler and a draw costs a handful of kernels, never a per-row Python loop or a host copy:

* `counts[d, k]` rows of category k in discrete column d (padded to the widest column);
* `cdf_log` / `cdf_emp` per-column cumulative category probabilities (padding stays at 1);
* `rows`, a flat row-id array sorted by (column, category), with `offsets[d, k]` into it, so a
  row with category k of column d is `rows[offsets[d, k] + floor(u * counts[d, k])]`.

The count and cdf tables are persistent (generation needs them, they are small). The row
tables index the training data, so they are non-persistent: checkpoints never carry them.

Any-way conditioning (`sample_train_multi`, the idea of Gretel's ACTGAN): a share of the
training condition vectors also carry the drawn real row's categories of a random subset of
the other discrete columns (each included with a per-row probability drawn uniformly), so the
generator learns p(row | any set of discrete values) and `fixed` can condition on several
columns at once. The row's categories are read from its one-hot spans (no extra table).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from pipeline.tabular.spans import DiscreteColumn


class ConditionalSampler(nn.Module):
    """Condition-vector and real-row sampler over the discrete columns of a transformed matrix."""

    def __init__(self, discrete: list[DiscreteColumn], log_frequency: bool = True) -> None:
        super().__init__()
        self.n_discrete = len(discrete)
        self.log_frequency = log_frequency
        widths = [c.width for c in discrete]
        self.cond_dim = int(sum(widths))
        self.max_width = max(widths, default=1)
        self.span_starts = [c.span_start for c in discrete]
        n, w = max(self.n_discrete, 1), self.max_width
        cond_offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]) if widths else np.zeros(1)
        self.register_buffer("cond_offsets", torch.as_tensor(cond_offsets, dtype=torch.long))
        self.register_buffer("widths", torch.as_tensor(widths or [1], dtype=torch.long))
        # Matrix columns of every discrete span, padded to max_width (padding masked out).
        gather = torch.zeros(n, w, dtype=torch.long)
        pad = torch.ones(n, w, dtype=torch.bool)
        for d, c in enumerate(discrete):
            gather[d, :c.width] = torch.arange(c.span_start, c.span_start + c.width)
            pad[d, :c.width] = False
        self.register_buffer("span_gather", gather, persistent=False)
        self.register_buffer("span_pad", pad, persistent=False)
        self.register_buffer("counts", torch.zeros(n, w, dtype=torch.long))
        self.register_buffer("cdf_log", torch.ones(n, w))
        self.register_buffer("cdf_emp", torch.ones(n, w))
        # Generation-only log-weight offsets on the empirical category rates, fitted after
        # refinement (`CTGANModule._calibrate_refined`): the refiner keeps rows at rates that
        # differ by category, and a row's conditioned category is not moved by logit offsets.
        self.register_buffer("gen_bias", torch.zeros(n, w))
        self.register_buffer("rows", torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("offsets", torch.zeros(n, w, dtype=torch.long), persistent=False)
        self.n_rows = 0

    def fit(self, matrix: Tensor) -> "ConditionalSampler":
        """Build the count, cdf and row tables from the transformed training matrix."""
        self.n_rows = int(matrix.shape[0])
        device = self.counts.device
        if self.n_discrete == 0:
            return self
        # One argmax per discrete span (a loop over columns, once, at fit time).
        cats = torch.stack([matrix[:, s:s + w].argmax(1) for s, w in
                            zip(self.span_starts, self.widths.tolist())], 0).to(device)
        n, w = self.n_discrete, self.max_width
        key = cats + torch.arange(n, device=device)[:, None] * w  # [n_disc, N] (column, category)
        counts = torch.bincount(key.reshape(-1), minlength=n * w).reshape(n, w)
        # Sorting each column's row ids by category gives the flat table; column d's block
        # starts at d * N, and each category's slice at the running count before it.
        order = torch.argsort(cats, dim=1, stable=True)
        self.rows = order.reshape(-1)
        starts = torch.cumsum(counts, 1) - counts
        self.offsets = starts + torch.arange(n, device=device)[:, None] * self.n_rows
        self.counts = counts
        self.cdf_log = _cdf(torch.log1p(counts.double()), self.widths)
        self.cdf_emp = _cdf(counts.double(), self.widths)
        return self

    def sample_train(self, batch: int, generator: torch.Generator | None = None
                     ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Training draw: (cond [B, cond_dim], column [B], category [B], row ids [B])."""
        device = self.counts.device
        if self.n_discrete == 0:
            rows = torch.randint(self.n_rows, (batch,), device=device, generator=generator)
            empty = torch.zeros(batch, dtype=torch.long, device=device)
            return torch.zeros(batch, 0, device=device), empty, empty, rows
        cdf = self.cdf_log if self.log_frequency else self.cdf_emp
        column, category = self._draw(cdf, batch, generator)
        u = torch.rand(batch, device=device, generator=generator)
        count = self.counts[column, category]
        pick = torch.minimum((u * count).long(), count - 1)
        rows = self.rows[self.offsets[column, category] + pick]
        return self.cond_vector(column, category), column, category, rows

    def sample_train_multi(self, batch: int, data: Tensor, anyway: float,
                           generator: torch.Generator | None = None
                           ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Any-way training draw: (cond [B, cond_dim], mask [B, n_disc] (1 = conditioned),
        categories [B, n_disc] (the real row's), row ids [B]). The primary column is drawn as
        in `sample_train`; with probability `anyway` a row also conditions on each other
        discrete column with a per-row probability q ~ U(0, 1). `anyway=0` is `sample_train`."""
        cond, column, category, rows = self.sample_train(batch, generator)
        device = self.counts.device
        if self.n_discrete == 0:
            empty = torch.zeros(batch, 0, device=device)
            return cond, empty, empty.long(), rows
        primary = torch.zeros(batch, self.n_discrete, device=device, dtype=torch.bool)
        primary.scatter_(1, column[:, None], True)
        if anyway <= 0:
            cats = torch.zeros(batch, self.n_discrete, dtype=torch.long, device=device)
            return cond, primary.float(), cats.scatter_(1, column[:, None], category[:, None]), rows
        cats = self.categories(data[rows])
        u = torch.rand(batch, 2, device=device, generator=generator)
        extra = torch.rand(batch, self.n_discrete, device=device, generator=generator)
        mask = primary | ((extra < u[:, :1]) & (u[:, 1:] < anyway))
        return self.multi_vector(cats, mask), mask.float(), cats, rows

    def categories(self, rows: Tensor) -> Tensor:
        """[B, n_disc] category of every discrete column in transformed rows (span argmax)."""
        picked = rows.index_select(1, self.span_gather.reshape(-1)).reshape(
            rows.shape[0], self.n_discrete, self.max_width)
        return picked.masked_fill(self.span_pad, -1.0).argmax(-1)

    def multi_vector(self, cats: Tensor, mask: Tensor) -> Tensor:
        """Condition vectors with one bit per conditioned column (mask) at its category."""
        out = torch.zeros(cats.shape[0], self.cond_dim, device=cats.device)
        return out.scatter_(1, self.cond_offsets[None, :] + cats, mask.to(out.dtype))

    def fixed_many(self, batch: int, pairs: list[tuple[int, int]]) -> Tensor:
        """Every row conditioned on all (discrete column, category) pairs at once."""
        vec = torch.zeros(self.cond_dim, device=self.counts.device)
        for column, category in pairs:  # a handful of conditions, once per chunk
            vec[int(self.cond_offsets[column]) + category] = 1.0
        return vec.expand(batch, -1).contiguous()

    def sample_original(self, batch: int, generator: torch.Generator | None = None) -> Tensor:
        """Generation draw: a uniformly chosen column, its category by EMPIRICAL frequency."""
        device = self.counts.device
        if self.n_discrete == 0:
            return torch.zeros(batch, 0, device=device)
        column, category = self._draw(self.generation_cdf(), batch, generator)
        return self.cond_vector(column, category)

    def generation_cdf(self) -> Tensor:
        """The empirical category cdf, reweighted by exp(`gen_bias`) once that is fitted."""
        if not bool(self.gen_bias.any()):
            return self.cdf_emp
        cdf = self.cdf_emp.double()
        weights = torch.diff(cdf, dim=1, prepend=torch.zeros_like(cdf[:, :1])).clamp_min(0)
        return _cdf(weights * torch.exp(self.gen_bias.double()), self.widths)

    def span_values(self, row: Tensor) -> Tensor:
        """[n_disc, max_width] view of a matrix-width vector over the discrete spans (padding
        0)."""
        return row[self.span_gather].masked_fill(self.span_pad, 0.0)

    def fixed(self, batch: int, column: int, category: int) -> Tensor:
        """Every row conditioned on one (discrete column, category) pair."""
        device = self.counts.device
        col = torch.full((batch,), column, dtype=torch.long, device=device)
        return self.cond_vector(col, torch.full_like(col, category))

    def cond_vector(self, column: Tensor, category: Tensor) -> Tensor:
        """One-hot condition vectors, built with a single scatter."""
        out = torch.zeros(column.shape[0], self.cond_dim, device=self.counts.device)
        index = (self.cond_offsets[column] + category)[:, None]
        return out.scatter_(1, index, 1.0)

    def _draw(self, cdf: Tensor, batch: int, generator: torch.Generator | None
              ) -> tuple[Tensor, Tensor]:
        device = cdf.device
        column = torch.randint(self.n_discrete, (batch,), device=device, generator=generator)
        u = torch.rand(batch, 1, device=device, generator=generator, dtype=cdf.dtype)
        # Inverse-cdf lookup: the category is the number of cdf steps below u.
        category = (cdf[column] <= u).sum(1)
        return column, torch.minimum(category, self.widths[column] - 1)


def _cdf(weights: Tensor, widths: Tensor) -> Tensor:
    """Row-normalised cumulative sums; entries from each row's last positive weight on are 1
    (so rounding can never select a padding slot or an empty trailing category)."""
    total = weights.sum(1, keepdim=True).clamp_min(1e-300)
    cdf = torch.cumsum(weights / total, 1)
    positive = weights > 0
    last = torch.where(positive, torch.arange(weights.shape[1], device=weights.device), -1)
    last = last.max(1, keepdim=True).values
    after = torch.arange(weights.shape[1], device=weights.device)[None, :] >= last
    return torch.where(after, torch.ones_like(cdf), cdf).float()
