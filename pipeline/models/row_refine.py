"""Density-ratio refinement of decoded rows: keep a generated row by how real it looks as a row.

The encoded refiner (`refine.py`) reads the transformed matrix; what the detection metric and
a user see are the decoded rows, where lattices, rules and residual fits have turned the matrix
into values. This second refiner learns real training rows against decoded generated rows
(boosted trees, `boosted.py`, the classes weighing the same, so the log-odds estimate the log
density ratio) and `generate` keeps a row with probability min(1, exp(ratio_power x log-odds -
log M)), M the largest cap at which held-out generated rows need at most `max_draws` draws per
kept row (discriminator rejection sampling, Azadi et al. 2019, on the rows themselves).

Features: numeric and datetime columns as floats (datetimes in seconds) minus the real minimum,
missing as a value below every real one; categorical and boolean columns as the rank of their
level by real frequency (missing is a level; an unseen level ranks last). Levels are kept as
64-bit hashes of "column / level", so the whole state is tensors in the model's state_dict and
checkpoints stay weights_only.

Privacy: the trees read real rows, and the sharper their ratio, the nearer the kept rows sit
to training rows: on one trained bikeshare model (three generation seeds each) detection 0.736
-> 0.639 cost DCR share 0.516 -> 0.530 at learning rate 0.2, while rate 0.05 gave 0.683 at
0.518 (docs/quality.md, twelfth round), hence the slow rate. Every leaf holds at least
`_MIN_LEAF` rows, the fit stops early on a held-out 15 %, keeping follows `_POWER` of the log
ratio, and refinement stays off under `refine.MIN_ROWS` rows and where the held-out AUC says
there is nothing to correct.

The trees see twice as many decoded rows as real ones (the classes still weigh the same): the
generated side is the one that can be drawn at will, and knowing it better sharpened the
correction on both tables refitted, with a lower DCR share. Refitted on the same trained models
(docs/quality.md, fifteenth round), 1x -> 2x: txhousing detection 0.656 -> 0.616, DCR share
0.493 -> 0.489; nyc_weather 0.734 -> 0.730, DCR 0.520 -> 0.515 (4x and 8x: no further gain).
Up to the real rows' cap only: on flights (62,500 real rows) drawing 125,000 decoded rows left
the refiner 25 trees inside `train.max_minutes`, detection 0.682 -> 0.703.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from pipeline.metrics.features import DISCRETE_ROLES, SKIP_ROLES, as_float, as_text
from pipeline.models.boosted import BoostedTrees, take_shapes
from pipeline.models.refine import MIN_ROWS, holdout_split, switch_on

logger = logging.getLogger(__name__)

_MAX_TREES = 150
_LEARNING_RATE = 0.05  # 0.2: sharper ratios, kept rows nearer training rows (above)
_MAX_DEPTH = 6
_MIN_LEAF = 100
_FIT_ROWS = 50000  # real rows the trees are fitted on (a seeded subsample above it)
_DRAWN_PER_REAL = 2  # decoded rows drawn per real row for the fit, at most the real cap's
# count (_FIT_ROWS + a fifth): on flights 2x left 25 of 150 trees inside train.max_minutes
_POWER = 0.7  # share of the log density ratio that keeping follows
_MISSING = "\x00missing"  # a discrete column's missing value, as a level


def layout(columns: list[str], roles: list[str]) -> list[tuple[str, bool]]:
    """(column, is discrete) for every column carrying information (not ids, not constants),
    in the transformer's order: the feature order of fit and keep."""
    return [(c, r in DISCRETE_ROLES) for c, r in zip(columns, roles) if r not in SKIP_ROLES]


class RowRefiner(nn.Module):
    """Real-vs-generated boosted classifier over decoded rows, its featurizer state, the
    fitted acceptance cap (`log_cap`) and an on/off flag; all saved with the generator."""

    def __init__(self) -> None:
        super().__init__()
        self.trees = BoostedTrees()
        self.register_buffer("offset", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("fill", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("level_hash", torch.zeros(0, dtype=torch.long))  # sorted
        self.register_buffer("level_rank", torch.zeros(0))
        self.register_buffer("log_cap", torch.zeros(()))
        self.register_buffer("on", torch.zeros((), dtype=torch.bool))
        self.register_buffer("auc", torch.zeros(()))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        take_shapes(self, state_dict, prefix, ("offset", "fill", "level_hash", "level_rank"))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ features
    def _fit_features(self, real: pd.DataFrame, cols: list[tuple[str, bool]]) -> None:
        offset, fill, hashes, ranks = [], [], [], []
        for name, discrete in cols:
            if discrete:
                counts = _level_keys(name, real[name]).value_counts()
                order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                hashes.append(_hash([k for k, _ in order]))
                ranks.append(np.arange(len(order), dtype=np.float32))
                offset.append(0.0)
                fill.append(0.0)
            else:
                v = as_float(real[name])
                lo, hi = (np.nanmin(v), np.nanmax(v)) if np.isfinite(v).any() else (0.0, 0.0)
                offset.append(float(lo))
                fill.append(-(float(hi) - float(lo)) - 1.0)
        h = np.concatenate(hashes) if hashes else np.zeros(0, np.int64)
        r = np.concatenate(ranks) if ranks else np.zeros(0, np.float32)
        order = np.argsort(h, kind="stable")
        self.level_hash = torch.from_numpy(h[order])
        self.level_rank = torch.from_numpy(r[order])
        self.offset = torch.tensor(offset, dtype=torch.float64)
        self.fill = torch.tensor(fill, dtype=torch.float64)

    def features(self, frame: pd.DataFrame, cols: list[tuple[str, bool]]) -> Tensor:
        """float32 [rows, columns] as the trees read them."""
        table, rank = self.level_hash.cpu().numpy(), self.level_rank.cpu().numpy()
        offset, fill = self.offset.cpu().numpy(), self.fill.cpu().numpy()
        out = np.empty((len(frame), len(cols)), np.float32)
        for j, (name, discrete) in enumerate(cols):
            if discrete:
                # a discrete column always has a level (missing is one): the table is not empty
                h = _hash(_level_keys(name, frame[name]).to_numpy())
                pos = np.minimum(np.searchsorted(table, h), len(table) - 1)
                out[:, j] = np.where(table[pos] == h, rank[pos], len(rank))
            else:
                v = as_float(frame[name]) - offset[j]
                v[~np.isfinite(v)] = fill[j]
                out[:, j] = v
        return torch.from_numpy(out)

    # ------------------------------------------------------------------ fit / keep
    def fit(self, real: pd.DataFrame, draw: Callable[[int], pd.DataFrame],
            cols: list[tuple[str, bool]], seed: int, max_draws: float,
            deadline: float | None = None) -> None:
        """Fit on the real training rows against decoded rows from `draw(n)`; a fifth of each
        is held out for the AUC and the cap. `deadline` (perf_counter seconds): no new trees
        after it."""
        self.on.fill_(False)
        if len(real) < MIN_ROWS or not cols:
            logger.info("refine rows: %d training rows (< %d) and %d informative columns; off",
                        len(real), MIN_ROWS, len(cols))
            return
        self._fit_features(real, cols)  # every real level and range, before subsampling
        rng = np.random.default_rng(int(seed) + 11)
        cap = _FIT_ROWS + _FIT_ROWS // 4  # rows per side: the fit's plus a held-out fifth
        if len(real) > cap:
            real = real.iloc[np.sort(rng.choice(len(real), cap, replace=False))]
        fake = draw(max(min(_DRAWN_PER_REAL * len(real), cap), 4096))
        gen = torch.Generator().manual_seed(int(seed) + 12)
        (r_fit, r_val), (f_fit, f_val) = (holdout_split(self.features(real, cols), gen),
                                          holdout_split(self.features(fake, cols), gen))
        x = torch.cat([r_fit, f_fit])
        y = torch.cat([torch.ones(len(r_fit)), torch.zeros(len(f_fit))])
        self.trees.fit(x, y, seed, max_iter=_MAX_TREES, learning_rate=_LEARNING_RATE,
                       max_depth=_MAX_DEPTH, min_samples_leaf=_MIN_LEAF,
                       threads=torch.get_num_threads(), deadline=deadline)
        self.trees.to(self.log_cap.device)  # fitted on CPU features: back to the model's device
        with torch.no_grad():
            real_val, fake_val = (self.trees(v.to(self.log_cap.device)) for v in (r_val, f_val))
        switch_on(self, real_val, fake_val, _POWER, max_draws, "refine decoded rows")

    @torch.no_grad()
    def keep(self, frame: pd.DataFrame, cols: list[tuple[str, bool]],
             rng: np.random.Generator) -> np.ndarray:
        """Boolean mask over `frame`'s rows: keep each with probability min(1, ratio^p / M);
        all True while off."""
        if not bool(self.on) or len(frame) == 0:
            return np.ones(len(frame), bool)
        score = self.trees(self.features(frame, cols).to(self.log_cap.device))
        logit = (_POWER * score - self.log_cap).cpu().numpy()
        return np.log(rng.random(len(frame))) < logit


def _level_keys(name: str, series: pd.Series) -> pd.Series:
    """"column / level" strings (missing as its own level) for hashing."""
    return (name + "\x1f") + as_text(series).fillna(_MISSING).astype(str)


def _hash(keys) -> np.ndarray:
    return pd.util.hash_array(np.asarray(keys, dtype=object)).view(np.int64)
