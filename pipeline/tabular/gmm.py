"""Batched variational Gaussian mixtures: every numerical column of a table in one fit.

The model is the one CTGAN's mode-specific normalisation uses: a truncated Dirichlet-process
(stick-breaking) mixture of 1-D Gaussians with a Normal-Gamma prior on each component's mean
and precision, fitted by variational EM (coordinate ascent; Blei & Jordan 2006, Bishop 2006
ch. 10). A tiny concentration prior lets the fit empty the components it does not need.

Two things make it fast by design:

- **Sufficient statistics.** A column is sorted and reduced to at most `max_points` weighted
  points: its distinct values with their counts, or, when it has more distinct values, that
  many equal-count runs of consecutive sorted values, each kept as (count, mean, within-run sum
  of squares). The E-step gives a run one responsibility vector; the M-step uses the run's
  exact count, sum and sum of squares. With few distinct values this is exactly the fit on
  every row; otherwise a run spans ~1/max_points of the rows, far narrower than any mode.
  An iteration costs O(columns x modes x max_points), whatever the row count.
- **One array for all columns.** Parameters are [columns, modes, 1] and points
  [columns, 1, points] (padding points have count 0), so an iteration is a handful of numpy
  operations for the whole table. A column stops updating once it has converged, so the
  result for a column does not depend on the other columns in the batch.

Initialisation is deterministic: the sorted points are cut into `n_modes` equal-count
quantile groups (hard responsibilities), then EM runs from the M-step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma

MAX_POINTS = 1024  # weighted points per column (distinct values, or equal-count runs)
MAX_ITER = 100
TOL = 1e-6  # change in the mean per-row log normaliser below which a column has converged
CONCENTRATION = 1e-3  # Dirichlet-process concentration: small = few modes
_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass
class Mixtures:
    """Fitted mixtures, one row per column, in standardised units (see `fit_mixtures`).

    Components past a column's `n_modes` have weight 0.
    """

    weights: np.ndarray  # [columns, max_modes]
    means: np.ndarray  # [columns, max_modes]
    variances: np.ndarray  # [columns, max_modes]
    n_iter: np.ndarray  # [columns] EM iterations run
    converged: np.ndarray  # [columns] bool


def compress(z: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, ...]:
    """(count, mean, within sum of squares) of at most `max_points` runs of sorted `z`."""
    values, counts = np.unique(z, return_counts=True)
    if len(values) <= max_points:
        return counts.astype(np.float64), values, np.zeros(len(values))
    zs = np.sort(z)
    bounds = np.linspace(0, len(zs), max_points + 1).round().astype(np.int64)
    n = np.diff(bounds).astype(np.float64)
    mean = np.add.reduceat(zs, bounds[:-1]) / n
    dev = zs - np.repeat(mean, np.diff(bounds))
    return n, mean, np.add.reduceat(dev * dev, bounds[:-1])


def fit_mixtures(columns: list[np.ndarray], n_modes: list[int], *,
                 max_points: int = MAX_POINTS, max_iter: int = MAX_ITER, tol: float = TOL,
                 concentration: float = CONCENTRATION) -> Mixtures:
    """Fit one Dirichlet-process Gaussian mixture per 1-D array of `columns`, all at once.

    Each array should be standardised (mean 0, std 1): the prior is a Normal-Gamma centred on
    0 with unit prior variance and one pseudo-observation, as a scale-free default.
    `n_modes[c]` (<= max(n_modes)) is column c's truncation level.
    """
    n_cols, k_max = len(columns), max(n_modes)
    shape = (n_cols, 1, max_points)
    cnt, val, within = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for c, z in enumerate(columns):
        n, m, s = compress(np.asarray(z, dtype=np.float64), max_points)
        cnt[c, 0, :len(n)], val[c, 0, :len(n)], within[c, 0, :len(n)] = n, m, s
    total = cnt.sum(axis=2, keepdims=True)  # [C, 1, 1]
    # Components beyond a column's truncation level never take responsibility.
    live = np.arange(k_max)[None, :, None] < np.asarray(n_modes)[:, None, None]  # [C, K, 1]
    per_row = np.divide(within, cnt, out=np.zeros(shape), where=cnt > 0)

    # Quantile initialisation: point g goes to the mode whose equal-count slice holds its
    # middle row.
    mid = (np.cumsum(cnt, axis=2) - cnt / 2.0) / total
    first = np.minimum((mid * np.asarray(n_modes)[:, None, None]).astype(np.int64), k_max - 1)
    resp = (first == np.arange(k_max)[None, :, None]).astype(np.float64)  # [C, K, G]

    params = _m_step(resp, cnt, val, within, concentration)
    n_iter = np.zeros(n_cols, dtype=np.int64)
    converged = np.zeros(n_cols, dtype=bool)
    last = np.full(n_cols, -np.inf)
    active = np.arange(n_cols)
    for _ in range(max_iter):
        if not len(active):
            break
        sub = tuple(p[active] for p in params)
        resp, norm = _e_step(sub, val[active], per_row[active], cnt[active], live[active])
        new = _m_step(resp, cnt[active], val[active], within[active], concentration)
        for p, q in zip(params, new):
            p[active] = q
        n_iter[active] += 1
        done = np.abs(norm - last[active]) < tol
        last[active] = norm
        converged[active[done]] = True
        active = active[~done]

    weights = _stick_weights(params[4], params[5]) * live[:, :, 0]
    weights /= weights.sum(axis=1, keepdims=True)
    m, beta, a, b = (p[:, :, 0] for p in params[:4])
    return Mixtures(weights, m, b / a, n_iter, converged)


def _m_step(resp: np.ndarray, cnt: np.ndarray, val: np.ndarray, within: np.ndarray,
            concentration: float) -> tuple[np.ndarray, ...]:
    """Variational posteriors from responsibilities: Normal-Gamma (m, beta, a, b) per mode
    and the Beta(g1, g2) of each stick."""
    rn = resp * cnt  # rows of each point credited to each mode
    nk = rn.sum(axis=2, keepdims=True)  # [C, K, 1]; exactly 0 for modes past truncation
    safe = nk + 1e-10
    xbar = (rn * val).sum(axis=2, keepdims=True) / safe
    d = val - xbar
    sk = (rn * d * d + resp * within).sum(axis=2, keepdims=True) / safe
    beta = 1.0 + nk  # prior: mean 0, precision scale 1
    m = nk * xbar / beta
    a = 0.5 + 0.5 * nk  # prior: Gamma(1/2, 1/2), i.e. unit variance, one pseudo-observation
    b = 0.5 + 0.5 * (nk * sk + nk * xbar * xbar / beta)
    g1 = 1.0 + nk[:, :, 0]
    later = np.cumsum(nk[:, ::-1, 0], axis=1)[:, ::-1]  # rows in this mode and later ones
    g2 = concentration + np.concatenate([later[:, 1:], np.zeros_like(later[:, :1])], axis=1)
    return m, beta, a, b, g1, g2


def _e_step(params: tuple[np.ndarray, ...], val: np.ndarray, per_row: np.ndarray,
            cnt: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(responsibilities [C, K, G], mean per-row log normaliser [C])."""
    m, beta, a, b, g1, g2 = params
    dsum = digamma(g1 + g2)
    log_v, log_1v = digamma(g1) - dsum, digamma(g2) - dsum
    log_pi = log_v + np.cumsum(log_1v, axis=1) - log_1v  # E[log pi_k], [C, K]
    prec = a / b  # E[precision]
    e_log_prec = digamma(a) - np.log(b)
    d = val - m
    logp = (log_pi[:, :, None] + 0.5 * (e_log_prec - _LOG_2PI)
            - 0.5 * (prec * (d * d + per_row) + 1.0 / beta))
    logp = np.where(live, logp, -np.inf)
    top = logp.max(axis=1, keepdims=True)
    p = np.exp(logp - top)
    s = p.sum(axis=1, keepdims=True)
    norm = (cnt * (np.log(s) + top)).sum(axis=(1, 2)) / cnt.sum(axis=(1, 2))
    return p / s, norm


def _stick_weights(g1: np.ndarray, g2: np.ndarray) -> np.ndarray:
    """Expected mixture weights of the stick-breaking posteriors, [C, K]."""
    v = g1 / (g1 + g2)
    rest = np.cumprod(1.0 - v, axis=1)
    return v * np.concatenate([np.ones_like(v[:, :1]), rest[:, :-1]], axis=1)
