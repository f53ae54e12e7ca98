"""Encoders for continuous values (already mapped to float64 by `values.NumberCodec`).

`ModeNormalizer` is mode-specific normalisation (Xu et al. 2019, CTGAN): a variational Gaussian
mixture (`gmm.py`, all columns of a table fitted in one batch) learns the modes of a column; each value becomes a one-hot over the kept modes plus a
scalar (x - mean_k) / (4 std_k) in [-1, 1], where mode k is *sampled* from the posterior
responsibilities. `QuantileScaler` is the alternative: the empirical CDF, mapped to [-1, 1].
Both keep only plain lists as state, so they serialise to JSON exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.tabular.gmm import fit_mixtures

_N_QUANTILES = 1000
_MIN_STD_FRACTION = 1e-6  # floor on a mode's std, relative to the column's spread


def subsample(x: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """At most `max_rows` values of `x`, drawn without replacement (seeded)."""
    if len(x) <= max_rows:
        return x
    return x[np.random.default_rng(seed).choice(len(x), size=max_rows, replace=False)]


@dataclass
class ModeNormalizer:
    """Kept mixture modes of one column, sorted by mean: means, stds and renormalised weights."""

    means: list[float]
    stds: list[float]
    weights: list[float]

    @property
    def n_modes(self) -> int:
        return len(self.means)

    @classmethod
    def fit(cls, x: np.ndarray, max_modes: int, weight_threshold: float, fit_rows: int,
            seed: int) -> "ModeNormalizer":
        """One column's `fit_many`."""
        return cls.fit_many([x], max_modes, weight_threshold, fit_rows, [seed])[0]

    @classmethod
    def fit_many(cls, columns: list[np.ndarray], max_modes: int, weight_threshold: float,
                 fit_rows: int, seeds: list[int]) -> list["ModeNormalizer"]:
        """Fit a Dirichlet-process Gaussian mixture per column, all in one batch; drop light
        modes (weight < weight_threshold).

        Each column's mixture sees <= fit_rows values subsampled with its own seed, so a
        column's result does not depend on the others; tail modes are then added so every real
        value of the whole column stays representable (see `_add_tail_modes`).
        """
        samples = [subsample(x, fit_rows, seed) for x, seed in zip(columns, seeds)]
        # Standardised so the mixture's prior is scale-free.
        centers = [float(s.mean()) for s in samples]
        scales = [float(s.std()) or 1.0 for s in samples]
        n_modes = [int(min(max_modes, len(np.unique(s)))) for s in samples]
        multi = [i for i, k in enumerate(n_modes) if k > 1]  # one distinct value: one mode
        slot = {i: j for j, i in enumerate(multi)}
        fitted = fit_mixtures([(samples[i] - centers[i]) / scales[i] for i in multi],
                              [n_modes[i] for i in multi]) if multi else None
        out = []
        for i, x in enumerate(columns):
            center, scale = centers[i], scales[i]
            if i not in slot:
                means, stds, w = np.array([center]), np.array([scale]), np.array([1.0])
            else:
                j = slot[i]
                weights, mu, var = fitted.weights[j], fitted.means[j], fitted.variances[j]
                keep = weights >= weight_threshold
                if not keep.any():
                    keep = weights == weights.max()
                means = center + scale * mu[keep]
                stds = np.maximum(scale * np.sqrt(var[keep]), _MIN_STD_FRACTION * scale)
                w = weights[keep] / weights[keep].sum()
            means, stds, w = _add_tail_modes(x, means, stds, w)
            order = np.argsort(means, kind="stable")
            out.append(cls(means[order].tolist(), stds[order].tolist(), w[order].tolist()))
        return out

    def encode(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(scalar in [-1, 1], sampled mode index) for each value of `x` (no NaNs).

        Modes for which the value would fall outside +-4 std are excluded before sampling so
        the scalar never clips (exact inversion); a value outside every mode's range takes
        the nearest mode and clips.
        """
        mu, sd = np.asarray(self.means), np.asarray(self.stds)
        z = (x[:, None] - mu) / (4.0 * sd)
        logp = -8.0 * z * z - np.log(sd) + np.log(np.asarray(self.weights))
        fits = np.abs(z) <= 1.0
        logp = np.where(fits, logp, -np.inf)
        orphan = ~fits.any(axis=1)
        if orphan.any():
            logp[orphan, np.argmin(np.abs(z[orphan]), axis=1)] = 0.0
        mode = sample_rows(logp, rng)
        scalar = np.clip(z[np.arange(len(x)), mode], -1.0, 1.0)
        return scalar, mode

    def decode(self, scalar: np.ndarray, mode: np.ndarray) -> np.ndarray:
        """Values from the scalar and the mode index: scalar * 4 std_k + mean_k."""
        return scalar * 4.0 * np.asarray(self.stds)[mode] + np.asarray(self.means)[mode]


def _add_tail_modes(x: np.ndarray, means: np.ndarray, stds: np.ndarray,
                    weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add up to two modes so every real value lies within +-4 std of some mode.

    Outliers the subsample missed (or that only dropped modes covered) would otherwise clip
    to the nearest mode's +-4 std and lose their value. Values left uncovered below / above
    the mixture's mean each get one mode spanning exactly their range, weighted by their share.
    """
    covered = np.zeros(len(x), dtype=bool)
    for m, sd in zip(means, stds):  # one pass per mode: no [rows, modes] temporary
        covered |= np.abs(x - m) <= 4.0 * sd
    if covered.all():
        return means, stds, weights
    floor = _MIN_STD_FRACTION * float(stds.max())
    centre = float(np.dot(weights, means))
    extra_m, extra_s, extra_w = [], [], []
    for group in (x[~covered & (x < centre)], x[~covered & (x >= centre)]):
        if len(group):
            lo, hi = float(group.min()), float(group.max())
            extra_m.append((lo + hi) / 2.0)
            extra_s.append(max((hi - lo) / 8.0, floor))
            extra_w.append(len(group) / len(x))
    w = np.concatenate([weights * (1.0 - sum(extra_w)), extra_w])
    return np.concatenate([means, extra_m]), np.concatenate([stds, extra_s]), w


def sample_rows(logp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row drawn from softmax(logp) with the cumsum-vs-uniform trick (no loop)."""
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    cum = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cum[:, -1]
    idx = (cum < u[:, None]).sum(axis=1)
    return np.minimum(idx, p.shape[1] - 1)


@dataclass
class QuantileScaler:
    """Empirical quantiles of one column; encodes x as 2 * CDF(x) - 1 (a uniform on [-1, 1])."""

    quantiles: list[float]

    @classmethod
    def fit(cls, x: np.ndarray, fit_rows: int, seed: int) -> "QuantileScaler":
        sample = subsample(x, fit_rows, seed)
        n = int(min(_N_QUANTILES, len(sample)))
        q = np.quantile(sample, np.linspace(0.0, 1.0, n))
        q[0], q[-1] = x.min(), x.max()  # the real extremes, which the subsample may miss
        return cls(q.tolist())

    def encode(self, x: np.ndarray) -> np.ndarray:
        q = np.asarray(self.quantiles)
        refs = np.linspace(0.0, 1.0, len(q))
        # Average the left and right interpolations so tied quantiles (point masses) map to
        # the middle of their CDF step rather than one of its ends.
        u = 0.5 * (np.interp(x, q, refs) - np.interp(-x, -q[::-1], -refs[::-1]))
        return 2.0 * u - 1.0

    def decode(self, scalar: np.ndarray) -> np.ndarray:
        q = np.asarray(self.quantiles)
        refs = np.linspace(0.0, 1.0, len(q))
        return np.interp((np.clip(scalar, -1.0, 1.0) + 1.0) / 2.0, refs, q)
