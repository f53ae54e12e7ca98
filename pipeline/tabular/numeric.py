"""Encoders for continuous values (already mapped to float64 by `values.NumberCodec`).

`ModeNormalizer` is mode-specific normalisation (Xu et al. 2019, CTGAN): a variational Gaussian
mixture (`gmm.py`, all columns of a table fitted in one batch) learns the modes of a column; each value becomes a one-hot over the kept modes plus a
scalar (x - mean_k) / (4 std_k) in [-1, 1], where mode k is *sampled* from the posterior
responsibilities. `QuantileScaler` is the alternative: the empirical CDF (dequantised on ties) through the
normal quantile function, mapped to [-1, 1]; it reproduces point masses and lattices exactly.
Both keep only plain lists as state, so they serialise to JSON exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scipy.special import ndtr, ndtri

from pipeline.tabular.gmm import fit_mixtures

_N_QUANTILES = 1000
_U_MIN = float(ndtr(-4.0))  # Phi(-4): the quantile-normal scalar stays inside [-1, 1]
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
    """Quantile-normal encoding with dequantisation: x -> u = F(x) -> Phi^-1(u) / 4 in [-1, 1].

    The empirical CDF F of the training column is kept as knots (`values`, `cdf`):
    - `step` (a column with <= exact_values_max distinct values): every distinct real value and
      its cumulative share. A value encodes to a u drawn uniformly inside its own CDF step, so
      ties (point masses, integer lattices) spread into a continuous, normally distributed
      scalar the GAN can learn; decoding maps u back to the value whose step holds it. Decoded
      values are always real values, at the real rates when u is uniform: point masses,
      lattices (multiples of 5, an 11-value grid) and the value set come back exactly.
    - linear (many distinct values): `n` quantiles of a <= fit_rows subsample, with the real
      extremes; F is piecewise linear between them. A heavy value (a point mass) repeats as
      several knots, so its u-range decodes to exactly that value too.
    Phi^-1 is clipped at +-4 sd (u within [3e-5, 1 - 3e-5]); linear knots span exactly that.
    """

    values: list[float]
    cdf: list[float]
    step: bool

    @classmethod
    def fit(cls, x: np.ndarray, fit_rows: int, seed: int,
            exact_values_max: int = 2000) -> "QuantileScaler":
        distinct, counts = np.unique(x, return_counts=True)
        if len(distinct) <= exact_values_max:
            cdf = np.cumsum(counts) / counts.sum()
            cdf[-1] = 1.0
            return cls(distinct.tolist(), cdf.tolist(), True)
        sample = subsample(x, fit_rows, seed)
        n = int(min(_N_QUANTILES, len(sample)))
        q = np.quantile(sample, np.linspace(0.0, 1.0, n))
        q[0], q[-1] = x.min(), x.max()  # the real extremes, which the subsample may miss
        # The extreme knots sit at the +-4 sd clip, so the real min/max decode exactly.
        refs = np.linspace(_U_MIN, 1.0 - _U_MIN, n)
        return cls(q.tolist(), refs.tolist(), False)

    def _u_range(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The CDF interval [lo, hi] each value occupies (lo == hi off point masses)."""
        v, f = np.asarray(self.values), np.asarray(self.cdf)
        if self.step:
            idx = np.clip(np.searchsorted(v, x, side="left"), 0, len(v) - 1)
            lo = np.where(idx > 0, f[np.maximum(idx - 1, 0)], 0.0)
            return lo, f[idx]
        # Tied knots (a point mass): the left and right interpolations give the ends of its
        # CDF step.
        left = np.interp(x, v, f)
        right = -np.interp(-x, -v[::-1], -f[::-1])
        return np.minimum(left, right), np.maximum(left, right)

    def encode(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        lo, hi = self._u_range(x)
        jitter = rng.random(len(x)) if rng is not None else np.full(len(x), 0.5)
        u = np.clip(lo + jitter * (hi - lo), _U_MIN, 1.0 - _U_MIN)
        return np.clip(ndtri(u) / 4.0, -1.0, 1.0)

    def tie_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Which scalars decode alike: `edges` (K, increasing, in scalar units) and `ranks`
        (K + 1) such that ranks[searchsorted(edges, s, side="left")] is equal for two scalars
        exactly when they decode to the same value (step columns), or to values of one knot
        interval or one point mass (linear columns, <= 1000 knot intervals: finer than a
        histogram booster's 255 bins), and increases with the decoded value."""
        f = np.asarray(self.cdf, dtype=np.float64)
        edges = ndtri(np.clip(f, 0.0, 1.0)) / 4.0  # cdf 1 -> +inf: the last value's step
        if self.step:
            return edges.astype(np.float32), np.arange(len(f) + 1, dtype=np.float32)
        # interval k = (edges[k-1], edges[k]]; 0 and K hold the clipped extremes. Intervals
        # between equal knots (a point mass) and their neighbours at that value share a rank.
        v = np.asarray(self.values, dtype=np.float64)
        flat = np.concatenate([[True], v[1:] == v[:-1], [True]])
        step = np.concatenate([[0], ~(flat[1:] & flat[:-1])]).astype(np.float32)
        return edges.astype(np.float32), np.cumsum(step)

    def decode(self, scalar: np.ndarray) -> np.ndarray:
        u = ndtr(4.0 * np.clip(scalar, -1.0, 1.0))
        v, f = np.asarray(self.values), np.asarray(self.cdf)
        if self.step:
            return v[np.clip(np.searchsorted(f, u, side="left"), 0, len(v) - 1)]
        return np.interp(u, f, v)
