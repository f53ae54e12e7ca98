"""Density-ratio refinement: keep generated rows by how real a classifier finds them.

After training (and marginal calibration) a gradient-boosted classifier (`boosted.py`) learns
to tell encoded real training rows from generated ones, with the classes weighted equally, so
its log-odds estimate the log density ratio log p_real(x) / p_gen(x). Sampling keeps a
generated row with probability min(1, ratio(x) / M): the kept rows follow min(ratio, M) * p_gen,
which is p_real wherever the ratio stays below M (rejection sampling with a capped importance
weight: discriminator rejection sampling, Azadi et al. 2019; likelihood-free importance
weighting, Grover et al. 2019). M is the largest cap at which, on held-out generated rows, at
most `max_draws` rows are drawn per kept row, so sampling costs a bounded multiple of the plain
draw.

Why boosted trees: on credit the same trained generator's rows scored detection 0.747 kept by
the earlier two-layer MLP classifier (at half its log ratio) and 0.654 kept by the booster at
its full ratio (diamonds 0.763 -> 0.721; docs/quality.md, sixth round): tabular real-vs-fake
boundaries are axis-aligned thresholds on a few columns, which trees find from a few thousand
rows where an MLP needs many more.

Privacy: the classifier reads real rows. Every leaf holds at least _MIN_LEAF training rows
(real and generated together), the booster stops early on a held-out 15 %, refinement stays
off on tables under MIN_ROWS rows and where the held-out AUC says there is nothing to correct.
"""

from __future__ import annotations

import logging
from typing import Callable

import torch
from torch import Tensor, nn

from pipeline.models.boosted import BoostedTrees
from pipeline.models.snap import DecodeSnap

logger = logging.getLogger(__name__)

# 150 trees at rate 0.2: half the scoring cost of 300 at 0.1 for the same kept rows (offline,
# same trained models: credit detection 0.656 vs 0.659, diamonds 0.716 vs 0.722).
_MAX_TREES = 150
_LEARNING_RATE = 0.2
# Depth 6 (<= 31 leaves as the booster's default): scoring costs one step per level, 6 here
# against up to 15 at the default unbounded depth (a 30-column test table); on credit
# detection 0.654 vs 0.647, one run each (docs/quality.md).
_MAX_DEPTH = 6
_MIN_LEAF = 20
_FIT_ROWS = 50000  # rows per class the booster is fitted on (a seeded subsample above it)
_MIN_AUC = 0.55  # held-out AUC below this: generated rows already look real, refine stays off
_ROUNDS = 30     # sampling: at most this many redraw rounds per request
# Fewer real rows than this: off. On penguins (241 rows) a classifier learned the rows
# themselves and the kept rows' marginals fell from 0.98 to 0.89 (column shapes).
MIN_ROWS = 1000


class Refiner(nn.Module):
    """Real-vs-generated boosted classifier over the transformed row, with its fitted
    acceptance cap (`log_cap` = log M) and an on/off flag; all saved with the generator."""

    def __init__(self) -> None:
        super().__init__()
        self.snap = DecodeSnap()  # rows that decode alike score alike
        self.trees = BoostedTrees()
        self.register_buffer("log_cap", torch.zeros(()))
        self.register_buffer("on", torch.zeros((), dtype=torch.bool))
        self.register_buffer("auc", torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.trees(self.snap(x))

    def fit(self, real: Tensor, draw: Callable[[int], Tensor], seed: int,
            max_draws: float, ties: list[dict] | None = None,
            deadline: float | None = None) -> None:
        """Fit on `real` (training matrix) against rows from `draw(n)`; a fifth of each is
        held out to measure the AUC and set the cap on held-out generated rows. `ties`
        (`TableTransformer.tie_tables`): the scalars snapped to their decoded values;
        `deadline` (`time.perf_counter()` seconds): no new trees after it."""
        self.on.fill_(False)
        self.snap.set(ties or [])
        if real.shape[0] < MIN_ROWS:
            logger.info("refine: %d training rows < %d; refinement off", real.shape[0],
                        MIN_ROWS)
            return
        gen = torch.Generator(device=real.device).manual_seed(int(seed))
        real = _subsample(real, _FIT_ROWS + _FIT_ROWS // 4, gen)
        fake = draw(max(real.shape[0], 4096)).float()
        (r_fit, r_val), (f_fit, f_val) = holdout_split(real, gen), holdout_split(fake, gen)
        x = torch.cat([r_fit, f_fit])
        y = torch.cat([torch.ones(len(r_fit)), torch.zeros(len(f_fit))])
        # the classes weigh the same: the log-odds then estimate the density ratio
        self.trees.fit(self.snap(x), y, seed, max_iter=_MAX_TREES, learning_rate=_LEARNING_RATE,
                       max_depth=_MAX_DEPTH, min_samples_leaf=_MIN_LEAF,
                       threads=torch.get_num_threads(), deadline=deadline)
        with torch.no_grad():
            switch_on(self, self(r_val), self(f_val), 1.0, max_draws, "refine")

    @torch.no_grad()
    def keep(self, rows: Tensor, generator: torch.Generator | None) -> Tensor:
        """Boolean mask: keep each row with probability min(1, ratio / M)."""
        u = torch.rand(rows.shape[0], device=rows.device, generator=generator)
        return torch.log(u) < self(rows.float()) - self.log_cap


def switch_on(module: nn.Module, real: Tensor, fake: Tensor, power: float, max_draws: float,
              label: str) -> None:
    """Set a refiner's `auc`, `log_cap` and `on` buffers from its held-out scores of real and
    generated rows: on when the AUC reaches _MIN_AUC, the cap for keeping by ratio^power at
    <= `max_draws` draws per kept row (logged under `label`)."""
    auc = _auc(real, fake)
    module.auc.fill_(auc)
    if auc < _MIN_AUC:
        logger.info("%s: held-out real-vs-generated AUC %.3f < %.2f; off", label, auc, _MIN_AUC)
        return
    module.log_cap.fill_(_cap(power * fake, max_draws))
    module.on.fill_(True)
    rate = float(torch.clamp(torch.exp(power * fake - module.log_cap), max=1.0).mean())
    logger.info("%s: %d trees, held-out real-vs-generated AUC %.3f; keeping rows by density "
                "ratio, %.0f%% of draws kept", label, module.trees.n_trees, auc, 100 * rate)


def refined_sample(refiner: Refiner, draw: Callable[[int], Tensor], n: int,
                   generator: torch.Generator | None) -> Tensor:
    """`n` rows kept by the refiner, drawn in rounds sized by the observed acceptance rate;
    bounded: after _ROUNDS rounds the rest is taken as drawn (and logged)."""
    parts, have, rate = [], 0, 1.0
    for _ in range(_ROUNDS):
        want = n - have
        rows = draw(min(int(want / max(rate, 0.01) * 1.2) + 16, 200 * n + 16))
        mask = refiner.keep(rows, generator)
        rate = max(float(mask.float().mean()), 1e-3)
        kept = rows[mask][:want]
        parts.append(kept)
        have += kept.shape[0]
        if have >= n:
            break
    else:
        logger.warning("refine: %d of %d rows taken without refinement after %d rounds",
                       n - have, n, _ROUNDS)
        parts.append(rows[~mask][:n - have])
    return torch.cat(parts, 0)


def holdout_split(x: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """(fit, held-out) rows: a seeded shuffle, a fifth held out (both refiners)."""
    order = torch.randperm(x.shape[0], generator=gen, device=gen.device).to(x.device)
    cut = max(1, x.shape[0] // 5)
    return x[order[cut:]], x[order[:cut]]


def _subsample(x: Tensor, k: int, gen: torch.Generator) -> Tensor:
    if x.shape[0] <= k:
        return x
    order = torch.randperm(x.shape[0], generator=gen, device=gen.device).to(x.device)
    return x[order[:k]]


def _auc(pos: Tensor, neg: Tensor) -> float:
    """ROC AUC of scores `pos` (real) over `neg` (generated)."""
    from sklearn.metrics import roc_auc_score

    scores = torch.cat([pos, neg]).cpu().numpy()
    return float(roc_auc_score([1] * len(pos) + [0] * len(neg), scores))


def _cap(logits: Tensor, max_draws: float) -> float:
    """The largest log M with mean(min(1, exp(logit - log M))) >= 1 / max_draws."""
    lo, hi = float(logits.min()), float(logits.max())
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        rate = float(torch.clamp(torch.exp(logits - mid), max=1.0).mean())
        lo, hi = (mid, hi) if rate >= 1.0 / max_draws else (lo, mid)
    return lo
