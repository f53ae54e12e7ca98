"""Privacy accounting for DP training: noise calibration and the epsilon actually spent.

The accountant is Opacus's (RDP by default, PRV on request); this module only says what was
released and how often. Two mechanisms compose:

* DP-SGD on the critic: `steps` Poisson-sampled steps at sample rate `q`, per-row gradients
  clipped to `max_grad_norm`, Gaussian noise `noise_multiplier * max_grad_norm`;
* the category counts the conditional sampler needs (one Gaussian release, sample rate 1):
  a row adds 1 to one count per discrete column, so the L2 sensitivity is sqrt(#discrete)
  and the noise std is `count_noise * sqrt(#discrete)`.

`plan` calibrates both noises to a target epsilon (the counts get `stats_share` of it);
`spent` is the epsilon of the steps actually run, composed with the counts' release.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

# Orders searched for the RDP -> (epsilon, delta) conversion: Opacus' defaults stop at 63,
# too low for large epsilons over few steps (its "optimal order is the largest alpha" warning).
ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [
    80, 96, 128, 160, 192, 256, 384, 512, 768, 1024]


def _epsilon(history: list[tuple[float, float, int]], delta: float, accountant: str) -> float:
    """Epsilon of a composition of (noise multiplier, sample rate, steps) Gaussian mechanisms."""
    from opacus.accountants import PRVAccountant, RDPAccountant

    history = [h for h in history if h[2] > 0]
    if not history:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if accountant == "prv":
            acc = PRVAccountant()
            acc.history = list(history)
            return float(acc.get_epsilon(delta=delta))
        acc = RDPAccountant()
        acc.history = list(history)
        return float(acc.get_epsilon(delta=delta, alphas=ALPHAS))


def _solve_with(eps_of_acc, target: float, accountant: str) -> float:
    """`_solve` for `eps_of_acc(noise, accountant)`. PRV is tighter than RDP but fails (or
    asks for hundreds of GiB) at tiny noise, so it searches between half the RDP answer
    and the RDP answer, a failure counting as "not enough noise"."""
    sigma = _solve(lambda z: eps_of_acc(z, "rdp"), target)
    if accountant == "rdp":
        return sigma

    def safe(z: float) -> float:
        try:
            return eps_of_acc(z, accountant)
        except (RuntimeError, MemoryError, ValueError):
            return math.inf

    return _solve(safe, target, lo=sigma / 2, hi=sigma)


def _solve(eps_of, target: float, lo: float = 1e-2, hi: float = 1e4) -> float:
    """Smallest noise multiplier (to 0.2%) whose epsilon is <= target (eps decreases in it)."""
    if eps_of(hi) > target:
        raise ValueError(f"no noise multiplier <= {hi:g} reaches epsilon {target:g}")
    if eps_of(lo) <= target:
        return lo
    while hi / lo > 1.002:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if eps_of(mid) <= target else (mid, hi)
    return hi


def default_delta(rows: int) -> float:
    """min(1e-5, 1/rows): below one over the number of people protected."""
    return min(1e-5, 1.0 / max(rows, 1))


def plan(privacy: Any, rows: int, batch_size: int, world: int, steps: int,
         n_discrete: int) -> dict[str, Any]:
    """Noise multipliers, sample rate and delta for `steps` DP critic steps (per rank).

    Each synchronous step samples every row with probability q = world * batch_size / rows
    (capped at 1), so a step sees about `world * batch_size` rows, as DDP training does.
    """
    q = min(1.0, world * batch_size / rows)
    delta = privacy.delta if privacy.delta is not None else default_delta(rows)
    acc, share = privacy.accountant, privacy.stats_share if n_discrete else 0.0

    def counts_eps(z: float, how: str) -> float:
        return _epsilon([(z, 1.0, 1)], delta, how)

    if privacy.epsilon is not None:
        z_c = _solve_with(counts_eps, share * privacy.epsilon, acc) if share > 0 else 0.0
        counts = [(z_c, 1.0, 1)] if share > 0 else []
        sigma = _solve_with(lambda s, how: _epsilon([(s, q, steps), *counts], delta, how),
                            privacy.epsilon, acc)
    else:
        sigma = privacy.noise_multiplier
        eps_sgd = _epsilon([(sigma, q, steps)], delta, acc)
        z_c = _solve_with(counts_eps, eps_sgd * share / (1 - share), acc) if share > 0 else 0.0
    out = {"noise_multiplier": sigma, "count_noise": z_c, "sample_rate": q, "delta": delta,
           "max_grad_norm": privacy.max_grad_norm, "steps": steps, "rows": rows,
           "world": world, "accountant": acc, "n_discrete": n_discrete}
    out["epsilon_planned"] = spent(out, steps)
    return out


def spent(dp_plan: dict[str, Any], steps_done: int) -> float:
    """Epsilon after `steps_done` critic steps (plus the counts' release when there is one)."""
    history = [(dp_plan["noise_multiplier"], dp_plan["sample_rate"], int(steps_done))]
    if dp_plan["count_noise"] > 0:
        history.append((dp_plan["count_noise"], 1.0, 1))
    return _epsilon(history, dp_plan["delta"], dp_plan["accountant"])
