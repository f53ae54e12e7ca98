"""Numeric columns that others nearly determine, encoded as their residual after a fit.

Real tables hold columns that others almost determine without an exact rule: a diamond's
`z` from its `depth` and `x` (R^2 0.997 in logs), a month's sales `volume` from `sales` and
`median` price (0.997), the dew point from temperature and humidity (0.992), the weather
along the timestamp it was measured at (`trends.py`). A GAN that draws such a column on its
own scale spreads it over the whole range the others allow; a classifier on the pair spots
the rows off the thin real band (two-feature detection AUC 0.7-0.8 on those pairs). Encoded
as the residual `r = f(C) - (b . [trend(key | group), f(A), f(B)] + c)`, with f = log where
the values are non-negative, the GAN only learns a small correction, and decoding puts it back:
`C = f^-1(prediction + r)`, then C's own rounding, range, dtype and (with few distinct values)
its real value set (`_cuts`).

`discover` picks the fits on the training table, for every numeric column: the best one- or
two-column least-squares fit (raw, log, and "logt": a log target on raw predictors, the
exponential relations such as relative humidity from temperature and dew point, nyc_weather
R^2 0.994 against 0.963 raw; correlation matrices on a <= 2,000-row probe; a pair fit may
add its predictors' squares and product where they leave at most `_QUAD_GAIN` of the
unexplained variance of every straight fit of the target: humidity's Magnus curve, R^2 0.992
-> 0.997 on nyc_weather) and
the best trend along an ordering key within a group, alone or with one column (R^2 of the
trend out of fold, on <= 20,000 rows), and the best per-level means of one discrete column
(`trends.profile`, out of fold; of one discrete column or of a pair: bikeshare `registered`
by `hr` x `workingday`), alone or with one column; an hh:mm target is also fitted as
its minutes after another hh:mm column (space "clock"), and a direction in degrees as its
wrapped difference from a trend of its angle (space "circ", circular R^2). Fits with R^2 >=
`min_r2` are
accepted greedily from the best while they form no cycle (decoding restores predictors
first) and while a residual
that ignores its predictors still decodes to the column's real marginal (else the fit would
blur point masses: diamonds `carat` from `y` and `z` lost its peaks at 0.3, 0.5, 1.0).
Columns an exact rule recomputes (`constraints.py`) are never targets, and predictors only as
the second of a pair of level columns, set by a lookup or datepart rule (decoding applies
that rule first). Predictors' missing values
count as their median, the same when encoding and decoding. Fits are plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from scipy.stats import ks_2samp

from pipeline.tabular import clocks, constraints, trends
from pipeline.tabular.values import NumberCodec, numbers, row_labels

_PROBE_ROWS = 2000
_TREND_ROWS = 20000
# no fits under 1,000 training rows: on penguins (241 rows) trends with 10-row knots pulled
# generated rows towards the training ones (DCR share 0.486 -> 0.552), and even the one
# numeric fit (`flipper_length_mm ~ body_mass_g`) gave MIA AUC 0.573 (target <= 0.55)
_MIN_ROWS = 1000
_CHECK_ROWS = 20000  # rows of the marginal check (its noise floor depends on them)
_MAX_COLUMNS = 60
_MIN_DISTINCT = 10  # a target with fewer distinct values is a category in all but name
_PAIR_GAIN = 0.8  # a second predictor must leave <= this share of the unexplained variance
# second-order terms must leave <= this share of the best straight fit's unexplained variance
# (nyc_weather humidity from temperature and dew point, log target: R^2 0.9924 -> 0.9971)
_QUAD_GAIN = 0.5
_TRIM = 0.005
_MAX_KS = 0.05  # marginal check: a continuous target decoded from shuffled residuals
_MAX_PROFILES = 12  # discrete columns tried as per-level means on their own
_PAIRS_TRIED = 3  # pairs of level columns per target and space also tried with an addition
_MAX_SPREAD_RATIO = 2.0  # level scales where the residual's spread differs more between levels
# run lengths a direction's trend may take: at 10-row runs nyc_weather's DCR share was 0.521
_CIRCULAR_RUNS = tuple(m for m in trends.RUN_ROWS if m >= 25)
_LONE_RUNS = _CIRCULAR_RUNS  # run lengths of a lone trend (`_lone_trends`)
_MIN_SPREAD = 0.1  # of the overall spread: a level under it is a point mass (scale 1)


@dataclass(frozen=True)
class _Option:
    r2: float
    target: str
    space: str
    sources: tuple[str, ...]
    key: dict | None = None  # a trend's key (`trends.candidates`)
    group: str | None = None
    run_rows: int = 0
    # a discrete column (or a pair: hr x workingday) whose per-level mean residual adds in
    profile: str | tuple[str, str] | None = None
    start: str | None = None  # space "clock": the hh:mm column the target's minutes follow
    quadratic: bool = False  # a pair fit with the squares and product of its predictors
    partner: str | None = None  # space "circ": the column whose point mass sets the target's

    @property
    def needs(self) -> tuple[str, ...]:
        return self.sources + (tuple(self.key["columns"]) if self.key else ()) \
            + _as_tuple(self.profile) + ((self.start,) if self.start else ()) \
            + ((self.partner,) if self.partner else ())


def _as_tuple(profile: str | tuple | list | None) -> tuple[str, ...]:
    return () if not profile else (profile,) if isinstance(profile, str) else tuple(profile)


def discover(df: pd.DataFrame, entries: list[dict], rules: list[dict], min_r2: float,
             exact_values_max: int, lone_r2: float | None = None) -> list[dict]:
    """Residual fits for the numerical/integer columns of `entries` (schema entries with
    dtypes) on `df`; columns that `rules` recompute are never targets, and predictors only
    as the second column of a pair of level columns, when a lookup or datepart rule sets them
    (bikeshare `workingday = table[day]`: decoding applies the rule first,
    `decode_order.py`). A target with <=
    `exact_values_max` distinct values decodes to one of them (also fitted on its normal
    scores: space "rank"). With `lone_r2`, a column left without a fit takes its trend
    alone at R^2 >= `lone_r2` along an accepted trend's key (`_lone_trends`)."""
    by_name = {e["name"]: e for e in entries}
    recomputed = {r["column"] for r in rules if r["kind"] != "order" and "column" in r}
    # a level column a lookup or datepart rule sets: its rule's sources join a fit's needs
    via = {r["column"]: tuple(constraints.reads(r)) for r in rules
           if r["kind"] in ("lookup", "datepart")}
    cols = [e["name"] for e in entries if e["role"] in ("numerical", "integer")
            and e["name"] not in recomputed][:_MAX_COLUMNS]
    if not cols or len(df) < _MIN_ROWS:
        return []
    values = {c: numbers(df[c]) for c in cols}
    cols = [c for c in cols if np.isfinite(values[c][~np.isnan(values[c])]).all()
            and (~np.isnan(values[c])).sum() >= 50]
    distinct = {c: len(np.unique(values[c][~np.isnan(values[c])])) for c in cols}
    ctx = {"values": values, "median": {c: float(np.nanmedian(values[c])) for c in cols},
           # log space for non-negative columns; a column with zeros (diamonds `x` of a few
           # rows) is shifted by half its smallest positive value first
           "shift": {c: _shift(values[c]) for c in cols},
           # normal scores for columns with few distinct values: a fit on them decodes through
           # the column's own CDF, so each value keeps its real share (point masses, lattices)
           "cdf": {c: _cdf(values[c]) for c in cols if distinct[c] <= exact_values_max},
           "clocks": [c for c in cols if clocks.is_clock(values[c])]}
    # the rows on which trends and level means are searched (the same for both)
    rows = np.random.default_rng(1).choice(len(df), min(len(df), _TREND_ROWS), replace=False)
    ctx.update(sample=df.iloc[rows], sub={c: values[c][rows] for c in cols}, rows=len(df),
               rules=rules)
    targets = [c for c in cols if distinct[c] >= _MIN_DISTINCT]
    keys, groups, profiles = trends.candidates(df, entries, recomputed)
    options = _numeric_options(cols, targets, ctx) + _trend_options(
        cols, targets, (keys, groups, profiles), ctx) + _profile_options(
        cols, targets, _discrete(df, entries, recomputed), ctx,
        _discrete(df, entries, recomputed - set(via))) + _circular_options(
        targets, (keys, groups), ctx, rules)
    chosen: dict[str, _Option] = {}  # target -> its option; predictors may be targets too
    fitted: dict[str, dict] = {}
    for option in sorted((o for o in options if o.r2 >= min_r2), key=lambda o: -o.r2):
        needs = option.needs + tuple(c for p in option.needs for c in via.get(p, ()))
        if option.target in chosen or _closes_cycle(option.target, needs, chosen):
            continue
        fit = _fit(df, by_name[option.target], option, ctx, exact_values_max)
        if _keeps_marginal(df, fit):
            if fit["profile"]:  # after the check: the scales decide no fit's acceptance
                fit["profile"]["scales"] = _level_scales(
                    fit, df, _target_of(df, fit) - _prediction(df, fit))
            chosen[option.target], fitted[option.target] = option, fit
    if lone_r2 is not None:
        _lone_trends(df, options, (chosen, fitted), by_name, ctx, lone_r2, exact_values_max)
    return [fitted[t] for t in _topological(chosen)]  # predictors restored before targets


def _lone_trends(df: pd.DataFrame, options: list[_Option], accepted: tuple[dict, dict],
                 by_name: dict, ctx: dict, lone_r2: float, exact_values_max: int) -> None:
    """Weaker trends for columns left without a fit, added to `accepted` in place.

    bikeshare's `windspeed` follows the days (out-of-fold R^2 0.12 along `day` + `hr` / 24 in
    25-row runs, 0.39 in 5-row ones), and a classifier on (`day`, `windspeed`) told the GAN's
    rows apart at AUC 0.60: encoded as its residual from that trend, detection 0.751 -> 0.73
    (three generation seeds 0.735-0.740 against 0.752-0.764). Only along the key and group
    of an accepted trend, and never where the trend would need its own column (`day` along
    `temp` when `temp` follows `day`). Runs of >= 25 rows (at 5-row runs the bikeshare trend
    moved the DCR share 0.512 -> 0.527; at 25, 0.508 -> 0.518 over three seeds, against
    0.509-0.523 without it). The GAN then learns the column's links to the others on the
    residual; a column that another fit or an exact rule reads is checked at the looser bar
    of `_keeps_marginal`: nyc_weather `wind_speed` (read by `wind_gust`'s fit; R^2 0.43 along
    `time_hour` in 50-row runs, TV 0.041 from the real values against noise 0.012) gave
    detection 0.743 -> 0.734, DCR share 0.528 -> 0.520, shapes 0.981 -> 0.977 (one run; it
    is the only built-in table this changes). At 10-row runs (R^2 0.65) it had lost its link
    to its own scale: gusts, present only in strong winds, came with weak ones (shapes 0.983
    -> 0.960)."""
    chosen, fitted = accepted
    read = set().union(*(reads(f) for f in fitted.values()),
                       *(constraints.reads(r) | constraints.writes(r) for r in ctx["rules"]))
    # only along a key (and group) that an accepted fit's trend follows: evidence that the
    # rows are a series along it (a "trend" of diamonds' `table` along `price` is none)
    series = [(f["trend"]["key"], f["trend"]["group"]) for f in fitted.values() if f["trend"]]
    sample, sub, shift, cdf = ctx["sample"], ctx["sub"], ctx["shift"], ctx["cdf"]
    best: dict[str, _Option] = {}
    for o in options:  # the best plain trend per target and space, refitted on longer runs
        if o.target in chosen or not o.key or o.sources or o.profile \
                or o.space not in ("raw", "log", "rank") or (o.key, o.group) not in series \
                or _closes_cycle(o.target, o.needs, chosen):
            continue
        code, labels = trends.group_of(sample, o.group)
        y = _to_target(sub[o.target], o.space, shift[o.target], cdf.get(o.target))
        m, _, r2 = trends.cross_fitted(trends.key_values(sample, o.key), code, y, len(labels),
                                       runs=_LONE_RUNS)
        if r2 >= lone_r2 and (o.target not in best or r2 > best[o.target].r2):
            best[o.target] = _Option(float(r2), o.target, o.space, (), o.key, o.group, m)
    for target, option in best.items():
        fit = _fit(df, by_name[target], option, ctx, exact_values_max)
        if _keeps_marginal(df, fit, loose=target in read):
            chosen[target], fitted[target] = option, fit


def _numeric_options(cols: list[str], targets: list[str], ctx: dict) -> list[_Option]:
    """The best single and pair of predictors per target and space, from correlations."""
    values, median, shift = ctx["values"], ctx["median"], ctx["shift"]
    n = len(next(iter(values.values())))
    cdf = ctx["cdf"]
    probe = np.random.default_rng(0).choice(n, min(n, _PROBE_ROWS), replace=False)
    out, curved = [], []
    for space in ("raw", "log", "rank", "logt"):
        names = [c for c in cols if shift[c] is not None] if space == "log" else cols
        if len(names) < 2:
            continue
        filled = np.column_stack([_winsorised(_forward_values(
            np.where(np.isnan(values[c]), median[c], values[c]), _pred_space(space), shift[c]))
            for c in names])
        for t, target in enumerate(names):
            rows = probe[~np.isnan(values[target][probe])]
            if target not in targets or len(rows) < 50 or (space == "rank" and target not in cdf):
                continue
            if space == "logt" and shift[target] is None:
                continue
            z = filled[rows].copy()
            if space in ("rank", "logt"):  # the target on its own scale, predictors raw
                z[:, t] = _to_target(values[target][rows], space, shift[target], cdf.get(target))
            sd = z.std(axis=0)
            if sd[t] == 0:
                continue
            z = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
            preds = [i for i in range(len(names)) if i != t and sd[i] > 0]
            for r2, ps in _correlation_fits(z, t, preds):
                out.append(_Option(r2, target, space, tuple(names[p] for p in ps)))
                if len(ps) == 2:
                    curved.append(_Option(_quadratic_r2(z[:, t], z[:, list(ps)]), target,
                                          space, tuple(names[p] for p in ps), quadratic=True))
    # second-order terms only where they beat every straight fit of the target by far
    best = {o.target: max(b.r2 for b in out if b.target == o.target) for o in curved}
    return out + [o for o in curved if 1.0 - o.r2 <= _QUAD_GAIN * (1.0 - best[o.target])]


def _quadratic_r2(y: np.ndarray, x: np.ndarray) -> float:
    """R^2 of least squares of standardised y on [a, b, a^2, b^2, a b, 1] (probe rows)."""
    design = np.column_stack([x, _products(x), np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(1.0 - np.mean((y - design @ coef) ** 2) / max(float(np.var(y)), 1e-300))


def _products(x: np.ndarray) -> np.ndarray:
    """The second-order terms of two predictor columns: a^2, b^2, a b."""
    return np.column_stack([x[:, 0] ** 2, x[:, 1] ** 2, x[:, 0] * x[:, 1]])


def _correlation_fits(z: np.ndarray, t: int, preds: list[int]) -> list[tuple[float, tuple]]:
    """(R^2, predictors) of the best single and best pair for target column t of the
    standardised probe `z` (rows x columns, no NaN)."""
    corr = z.T @ z / len(z)
    r = corr[t]
    singles = [(float(r[p] ** 2), (p,)) for p in preds]
    best = [max(singles)] if singles else []
    pairs = []
    for a, b in combinations(preds, 2):
        det = 1.0 - corr[a, b] ** 2
        if det >= 1e-8:
            pairs.append(((r[a] ** 2 + r[b] ** 2 - 2 * r[a] * r[b] * corr[a, b]) / det, (a, b)))
    if pairs and best:
        r2, ps = max(pairs)
        if 1.0 - r2 <= _PAIR_GAIN * (1.0 - best[0][0]):
            best.append((float(r2), ps))
    return best


def _trend_options(cols: list[str], targets: list[str], candidates: tuple[list, list, list],
                   ctx: dict) -> list[_Option]:
    """Per target and space: the best trend (key, group, run length; out-of-fold R^2), and
    that trend with the one column or per-level profile that adds most."""
    keys, groups, profiles = candidates
    if not keys:
        return []
    median, shift, cdf = ctx["median"], ctx["shift"], ctx["cdf"]
    sample, sub = ctx["sample"], ctx["sub"]
    key_x = [trends.key_values(sample, k) for k in keys]
    codes = {g: trends.group_of(sample, g) for g in set(groups) | set(profiles)}
    out = []
    for space in ("raw", "log", "rank"):
        for target in targets:
            if (space == "log" and shift[target] is None) or (space == "rank"
                                                                and target not in cdf):
                continue
            y = _to_target(sub[target], space, shift[target], cdf.get(target))
            ok = ~np.isnan(y)
            if ok.sum() < 100 or np.var(y[ok]) == 0:
                continue
            best = None
            for k, kx in zip(keys, key_x):
                if target in k["columns"]:
                    continue
                for g in groups:
                    code, labels = codes[g]
                    m, pred, r2 = trends.cross_fitted(kx, code, y, len(labels))
                    if best is None or r2 > best[0]:
                        best = (r2, k, g, m, pred)
            if best is None:
                continue
            r2, k, g, m, pred = best
            out.append(_Option(float(r2), target, space, (), k, g, m))
            plus = _best_addition(y[ok], pred[ok], {target, *k["columns"]}, cols,
                                  _pred_space(space), {c: sub[c][ok] for c in cols},
                                  median, shift)
            if plus is not None and 1.0 - plus[0] <= _PAIR_GAIN * (1.0 - r2):
                out.append(_Option(plus[0], target, space, (plus[1],), k, g, m))
            # a key column may give the profile (day + hr / 24 as the key, hr's daily cycle)
            level = _best_profile(y[ok], pred[ok], [p for p in profiles if p not in (target, g)],
                                  {p: codes[p] for p in profiles}, ok)
            if level is not None and 1.0 - level[0] <= _PAIR_GAIN * (1.0 - r2):
                out.append(_Option(level[0], target, space, (), k, g, m, level[1]))
    return out


def _best_profile(y: np.ndarray, trend: np.ndarray, names: list[str], codes: dict,
                  ok: np.ndarray) -> tuple | None:
    """(R^2, column) of the trend plus the best per-level mean of its residual."""
    best = None
    for name in names:
        code, labels = codes[name]
        code = code[ok]
        x = trends.profile(code, y - trend, len(labels))[np.maximum(code, 0)] * (code >= 0)
        r2 = _r2_with(y, trend, x)
        if best is None or r2 > best[0]:
            best = (r2, name)
    return best


def _r2_with(y: np.ndarray, trend: np.ndarray, x: np.ndarray) -> float:
    """In-sample R^2 of y ~ trend + x + 1."""
    design = np.column_stack([trend, x, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(1.0 - np.mean((y - design @ coef) ** 2) / np.var(y))


def _discrete(df: pd.DataFrame, entries: list[dict], recomputed: set[str]) -> list[str]:
    """Columns whose per-level means may predict a target on their own: categorical and
    boolean columns with 2..MAX_PROFILE_LEVELS levels and integer ones with 2..60 values,
    with >= 20 rows per level on average; the `_MAX_PROFILES` with the most levels."""
    found = []
    for e in entries:
        if e["name"] in recomputed or e["role"] not in ("categorical", "boolean", "integer"):
            continue
        levels = df[e["name"]].nunique()
        cap = trends.MAX_PROFILE_LEVELS if e["role"] != "integer" else 60
        if 2 <= levels <= cap and len(df) >= 20 * levels:
            found.append((-levels, e["name"]))
    return [name for _, name in sorted(found)][:_MAX_PROFILES]


def _profile_options(cols: list[str], targets: list[str], discrete: list[str],
                     ctx: dict, partners: list[str]) -> list[_Option]:
    """Per target and space: the best per-level mean of one discrete column (out-of-fold
    R^2), alone and with the one column that adds most (flights `air_time` by `dest`). An
    hh:mm target is also fitted as its minutes after another hh:mm column, modulo a day
    (space "clock": `sched_arr_time` = `sched_dep_time` + the scheduled duration, which the
    destination nearly fixes); its R^2 is on the target's own minutes."""
    median, shift, cdf, sub = ctx["median"], ctx["shift"], ctx["cdf"], ctx["sub"]
    codes = {p: trends.group_codes(ctx["sample"][p]) for p in set(discrete) | set(partners)}
    out = []
    for target in targets:
        spaces = [(space, None, _to_target(sub[target], space, shift[target], cdf.get(target)))
                  for space in ("raw", "log", "rank")
                  if (space != "log" or shift[target] is not None)
                  and (space != "rank" or target in cdf)]
        if target in ctx["clocks"]:
            spaces += [("clock", b, _clock_gap(sub[target], sub[b]))
                       for b in ctx["clocks"] if b != target]
        for space, start, y in spaces:
            ok = ~np.isnan(y)
            if ok.sum() < 100 or np.var(y[ok]) == 0:
                continue
            own = clocks.clock_minutes(sub[target][ok]) if start else y[ok]
            scale = float(np.var(y[ok]) / max(float(np.var(own)), 1e-300))
            if start:
                out.append(_Option(1.0 - scale, target, space, (), start=start))
            best = None
            for p in discrete:
                if p != target:
                    pred, r2 = trends.cross_fitted_profile(codes[p][0], y, len(codes[p][1]))
                    if best is None or r2 > best[0]:
                        best = (r2, p, pred)
            if best is None:
                continue
            # the best single profile, then the best pairs with it, each alone and with the
            # numeric predictor that adds most; a pair's extra levels must leave <= _PAIR_GAIN
            # of what the single left, alone or both with an addition: the best pair alone
            # need not be the best with one (bikeshare log `casual`: hour 0.498, + `atemp`
            # 0.700; hour x season 0.664, + `atemp` 0.683; hour x working day 0.559, +
            # `atemp` 0.768)
            r2, p, pred = best
            single = _with_addition(out, (r2, p, pred), None, target, space, start, scale,
                                    y, ok, cols, ctx)
            for pair in _pairs(y, p, [q for q in partners if q not in (target, p)], codes,
                               ctx["rows"])[:_PAIRS_TRIED]:
                _with_addition(out, pair, (r2, single), target, space, start, scale, y, ok,
                               cols, ctx)
    return out


def _with_addition(out: list[_Option], level: tuple, bar: tuple | None, target: str,
                   space: str, start: str | None, scale: float, y: np.ndarray, ok: np.ndarray,
                   cols: list[str], ctx: dict) -> float:
    """Append to `out` the profile option `level` = (R^2, column(s), prediction) and that
    profile plus the numeric column that adds most (when it leaves <= _PAIR_GAIN of the
    profile's unexplained variance). `bar` = (R^2 alone, R^2 with an addition) of the single
    profile a pair must beat by the same gain, else None (the single itself). Returns the
    R^2 with the addition (the profile's own when none is kept)."""
    r2, p, pred = level
    plus = _best_addition(y[ok], pred[ok], {target, start, *_as_tuple(p)}, cols,
                          _pred_space(space), {c: ctx["sub"][c][ok] for c in cols},
                          ctx["median"], ctx["shift"])
    plus = plus if plus is not None and 1.0 - plus[0] <= _PAIR_GAIN * (1.0 - r2) else None
    if bar is None or 1.0 - r2 <= _PAIR_GAIN * (1.0 - bar[0]):
        out.append(_Option(1.0 - (1.0 - r2) * scale, target, space, (), profile=p,
                           start=start))
    if plus is not None and (bar is None or 1.0 - plus[0] <= _PAIR_GAIN * (1.0 - bar[1])):
        out.append(_Option(1.0 - (1.0 - plus[0]) * scale, target, space, (plus[1],),
                           profile=p, start=start))
    return plus[0] if plus is not None else r2


def _pairs(y: np.ndarray, p: str, others: list[str], codes: dict, rows: int) -> list[tuple]:
    """(R^2, (p, q), prediction) of out-of-fold level means over the pairs of `p` with another
    discrete column, best first (bikeshare `registered` by hour and working day: commuting
    peaks come on working days only), pairs with <= MAX_PROFILE_LEVELS levels and >= 20
    training rows per level on average."""
    found = []
    code_p, labels_p = codes[p]
    for q in others:
        code_q, labels_q = codes[q]
        n = len(labels_p) * len(labels_q)
        if n > trends.MAX_PROFILE_LEVELS or rows < 20 * n:
            continue
        code = np.where((code_p >= 0) & (code_q >= 0), code_p * len(labels_q) + code_q, -1)
        pred, r2 = trends.cross_fitted_profile(code, y, n)
        found.append((r2, (p, q), pred))
    return sorted(found, key=lambda f: -f[0])


def _profile_series(frame: pd.DataFrame, column: str | list | tuple) -> pd.Series:
    """A profile's column, or for a pair one label per row (missing where either is)."""
    if isinstance(column, str):
        return frame[column]
    return row_labels(frame, list(column)).where(frame[list(column)].notna().all(axis=1))


def _clock_gap(target: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Minutes from hh:mm `start` to hh:mm `target`, modulo a day (NaN where either is)."""
    return np.mod(clocks.clock_minutes(target) - clocks.clock_minutes(start), 1440.0)


def _best_addition(y: np.ndarray, trend: np.ndarray, exclude: set, cols: list[str],
                   space: str, values: dict, median: dict, shift: dict) -> tuple | None:
    best = None
    for c in cols:
        if c in exclude or (space == "log" and shift[c] is None):
            continue
        x = _forward_values(np.where(np.isnan(values[c]), median[c], values[c]), space,
                            shift[c])
        r2 = _r2_with(y, trend, x)
        if best is None or r2 > best[0]:
            best = (r2, c)
    return best


def _ancestors(column: str, chosen: dict[str, _Option]) -> set[str]:
    out: set[str] = set()
    todo = [column]
    while todo:
        for p in chosen[c].needs if (c := todo.pop()) in chosen else ():
            if p not in out:
                out.add(p)
                todo.append(p)
    return out


def _closes_cycle(target: str, needs: tuple, chosen: dict[str, _Option]) -> bool:
    """Would a fit of `target` reading `needs` need `target` itself (directly or through the
    chosen fits)?"""
    return any(target in _ancestors(p, chosen) | {p} for p in needs)


def _topological(chosen: dict[str, _Option]) -> list[str]:
    order: list[str] = []
    while len(order) < len(chosen):
        for target, option in chosen.items():
            if target not in order and all(p not in chosen or p in order for p in option.needs):
                order.append(target)
    return order


def _winsorised(x: np.ndarray) -> np.ndarray:
    """`x` clipped to its 0.5 % and 99.5 % quantiles: a handful of outliers (diamonds `y` =
    58.9 mm among values of 4-10) must not decide which columns predict which, or the fit."""
    lo, hi = np.quantile(x, [_TRIM, 1.0 - _TRIM])
    return np.clip(x, lo, hi)


def _shift(x: np.ndarray) -> float | None:
    """What to add before taking logs: 0 for a positive column, half the smallest positive
    value for a non-negative one with zeros, None when logs do not apply."""
    x = x[~np.isnan(x)]
    if not len(x) or x.min() < 0 or x.max() <= 0:
        return None
    return 0.0 if x.min() > 0 else float(x[x > 0].min()) / 2.0


def _forward_values(x: np.ndarray, space: str, shift: float | None) -> np.ndarray:
    return np.log(np.maximum(x + shift, 1e-300)) if space == "log" else x


def _pred_space(space: str) -> str:
    """Predictors of a normal-score, clock or log-target target enter on their own scale."""
    return "raw" if space in ("rank", "clock", "logt") else space


def _cdf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, cumulative share up to and including each)."""
    vals, counts = np.unique(x[~np.isnan(x)], return_counts=True)
    return vals, np.cumsum(counts) / counts.sum()


def _scores(y: np.ndarray, cdf: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Normal score of each value at the middle of its CDF step (a value between the real
    ones interpolates)."""
    vals, cum = np.asarray(cdf[0]), np.asarray(cdf[1])
    mid = cum - np.diff(np.concatenate([[0.0], cum])) / 2.0
    return ndtri(np.clip(np.interp(y, vals, mid), 1e-9, 1 - 1e-9))


def _to_target(y: np.ndarray, space: str, shift: float | None, cdf: tuple | None) -> np.ndarray:
    if space == "rank":
        return _scores(y, cdf)
    return _forward_values(y, "log" if space == "logt" else space, shift)


def _circular_options(targets: list[str], candidates: tuple[list, list], ctx: dict,
                      rules: list[dict]) -> list[_Option]:
    """Directions in degrees (values in [0, 360], the largest >= 350: nyc_weather `wind_dir`):
    the best trend of the angle's cosine and sine along a key (circular R^2, out of fold).
    A value that a `together` rule ties to another column's point mass (calm: `wind_dir = 0`
    exactly when `wind_speed = 0`) is no angle: those rows take no part, and decoding sets
    the value wherever the other column sits on its mass."""
    keys, groups = candidates
    out = []
    for target in targets:
        v = ctx["sub"][target]
        present = v[~np.isnan(v)]
        if not keys or present.min() < 0 or present.max() > 360 or present.max() < 350:
            continue
        mass = _tied_mass(target, rules)
        degrees = np.where(v == mass[1], np.nan, v) if mass else v
        if (~np.isnan(degrees)).sum() < 100:
            continue
        best = None
        for k in keys:
            if target in k["columns"]:
                continue
            kx = trends.key_values(ctx["sample"], k)
            for g in groups:
                code, labels = trends.group_of(ctx["sample"], g)
                m, _, r2 = trends.cross_fitted_angle(kx, code, degrees, len(labels),
                                                     runs=_CIRCULAR_RUNS)
                if best is None or r2 > best[0]:
                    best = (r2, k, g, m)
        if best is not None:
            r2, k, g, m = best
            out.append(_Option(float(r2), target, "circ", (), k, g, m,
                               partner=mass[0] if mass else None))
    return out


def _tied_mass(target: str, rules: list[dict]) -> tuple[str, float, float] | None:
    """(other column, the target's value, the other's value) of a together rule on target."""
    for r in rules:
        if r["kind"] == "together" and target in r["columns"]:
            i = r["columns"].index(target)
            return r["columns"][1 - i], float(r["values"][i]), float(r["values"][1 - i])
    return None


def _fit_circular(df: pd.DataFrame, entry: dict, option: _Option, ctx: dict,
                  exact_values_max: int) -> dict:
    """A direction as its wrapped difference (degrees, [-180, 180)) from the angle of its
    trends' cosine and sine; decoded into (low, low + 360] with `low` half the smallest
    positive value, so north stays 360 and never becomes a tied 0, then onto its real values."""
    y = ctx["values"][entry["name"]]
    mass = _tied_mass(entry["name"], ctx["rules"])
    angle_rows = ~np.isnan(y) & ((y != mass[1]) if mass else True)
    key = trends.key_values(df, option.key)
    code, labels = trends.group_of(df, option.group)
    rad = np.deg2rad(y)
    trend = {"key": option.key, "group": option.group, "labels": labels}
    fit = {"column": entry["name"], "space": "circ", "sources": [], "fill": [], "shifts": [0.0],
           "trend": {**trend, **trends.fit(key[angle_rows], code[angle_rows],
                                           np.cos(rad[angle_rows]), len(labels),
                                           2 * option.run_rows)},
           "trend_sin": trends.fit(key[angle_rows], code[angle_rows], np.sin(rad[angle_rows]),
                                   len(labels), 2 * option.run_rows),
           "profile": None, "clock": None, "r2": round(option.r2, 6), "quadratic": False,
           "coef": [],
           "circ": {"low": float(np.min(y[angle_rows & (y > 0)])) / 2.0,
                    "tie": None if mass is None else
                    {"column": mass[0], "other": mass[2], "value": mass[1]}},
           "codec": NumberCodec.fit(df[entry["name"]], entry["role"], entry["dtype"]).to_dict(),
           "has_missing": bool(float(entry.get("missing_rate") or 0.0) > 0
                               or np.isnan(y).any()),
           "values": None, "cuts": None}
    decoded = y[angle_rows]
    distinct = np.unique(decoded)
    if len(distinct) <= exact_values_max:
        fit.update(values=distinct.tolist(), cuts=_cuts(distinct, decoded).tolist())
    return fit


def _angle_of(frame: pd.DataFrame, fit: dict) -> np.ndarray:
    """The trends' predicted direction in degrees."""
    trend = fit["trend"]
    key = trends.key_values(frame, trend["key"])
    code = trends.group_of(frame, trend["group"], trend["labels"])[0]
    return np.rad2deg(np.arctan2(trends.predict(fit["trend_sin"], key, code),
                                 trends.predict(trend, key, code)))


def _fit(df: pd.DataFrame, entry: dict, option: _Option, ctx: dict,
         exact_values_max: int) -> dict:
    """Least squares on every row where the target is present (predictors filled); a trend
    enters the fit through its out-of-fold values, so its weight is what generalises."""
    if option.space == "circ":
        return _fit_circular(df, entry, option, ctx, exact_values_max)
    target, space = entry["name"], option.space
    values, median, shift = ctx["values"], ctx["median"], ctx["shift"]
    y = values[target]
    ok = ~np.isnan(y)
    sources = list(option.sources)
    fit = {"column": target, "space": space, "sources": sources,
           "fill": [median[p] for p in sources],
           "shifts": [shift[p] or 0.0 for p in sources] + [shift[target] or 0.0],
           "trend": None, "profile": None, "clock": None, "r2": round(option.r2, 6),
           "quadratic": option.quadratic}
    if space == "rank":
        vals, cum = ctx["cdf"][target]
        fit["cdf"] = [vals.tolist(), cum.tolist()]
    if space == "clock":
        fit["clock"] = {"start": option.start, "fill": median[option.start],
                        "midnight_2400": bool(np.any(y == 2400) and not np.any(y == 0))}
    ty = _target_of(df, fit)
    design = _design(df, fit)
    columns = []
    if option.key:
        key = trends.key_values(df, option.key)
        code, labels = trends.group_of(df, option.group)
        fit["trend"] = {"key": option.key, "group": option.group, "labels": labels,
                        # runs of 2 m rows: the key span that m rows of one fold validated
                        **trends.fit(key[ok], code[ok], ty[ok], len(labels),
                                     2 * option.run_rows)}
        oof = np.empty(len(df))
        fold = np.random.default_rng(2).random(len(df)) < 0.5
        for f in (True, False):
            part = trends.fit(key[ok & (fold == f)], code[ok & (fold == f)],
                              ty[ok & (fold == f)], len(labels), option.run_rows)
            oof[fold != f] = trends.predict(part, key[fold != f], code[fold != f])
        columns.append(oof)
    if option.profile:  # means of the residual after the trend, or after the columns
        base = oof if option.key else design @ np.linalg.lstsq(design[ok], ty[ok], rcond=None)[0]
        pcode, plabels = trends.group_codes(_profile_series(df, option.profile))
        means = trends.profile(np.where(ok, pcode, -1), ty - base, len(plabels))
        fit["profile"] = {"column": option.profile if isinstance(option.profile, str)
                          else list(option.profile), "labels": plabels,
                          "means": means.tolist()}
        columns.append(_profile_values(fit["profile"], df))
    design = np.column_stack(columns + [design])[ok]
    design[:, :-1] = np.apply_along_axis(_winsorised, 0, design[:, :-1])
    coef, *_ = np.linalg.lstsq(design, _winsorised(ty[ok]), rcond=None)
    decoded = ty[ok] if space == "clock" else y[ok]  # what the residual decodes to
    distinct = np.unique(decoded)
    fit.update(coef=[float(v) for v in coef],
               codec=NumberCodec.fit(df[target], entry["role"], entry["dtype"]).to_dict(),
               has_missing=bool(float(entry.get("missing_rate") or 0.0) > 0 or not ok.all()),
               values=None, cuts=None)
    if len(distinct) <= exact_values_max and space != "rank":
        fit.update(values=distinct.tolist(), cuts=_cuts(distinct, decoded).tolist())
    return fit


def _level_scales(fit: dict, df: pd.DataFrame, residual: np.ndarray) -> list[float] | None:
    """Per profile level, the residual's spread relative to all rows, when the spreads differ
    by more than `_MAX_SPREAD_RATIO` between levels with >= MIN_LEVEL_ROWS rows (bikeshare
    `registered` in logs: 0.32 at night on working days to 0.84; drawn apart from the level,
    one spread for all would blur the busy hours and spike the quiet ones); residuals are
    divided by their level's scale when encoding. None: one spread fits all."""
    code = trends.group_codes(_profile_series(df, fit["profile"]["column"]),
                              fit["profile"]["labels"])[0]
    ok = (code >= 0) & ~np.isnan(residual)
    n = len(fit["profile"]["labels"])
    count = np.bincount(code[ok], minlength=n)
    mean = np.bincount(code[ok], residual[ok], minlength=n) / np.maximum(count, 1)
    var = np.bincount(code[ok], (residual[ok] - mean[code[ok]]) ** 2, minlength=n) \
        / np.maximum(count - 1, 1)
    overall, sd = float(np.nanstd(residual)), np.sqrt(var)
    # a level that is a point mass of the target (calm wind: speed 0) keeps scale 1: scaled
    # up by its own tiny spread, its residuals would swamp the others'
    kept = (count >= trends.MIN_LEVEL_ROWS) & (sd >= _MIN_SPREAD * overall)
    if overall <= 0 or kept.sum() < 2 or sd[kept].max() <= _MAX_SPREAD_RATIO * sd[kept].min():
        return None
    return np.where(kept, sd / overall, 1.0).tolist()


def _spread(fit: dict, frame: pd.DataFrame) -> np.ndarray | float:
    """Each row's residual scale (1 without level scales)."""
    scales = fit["profile"].get("scales") if fit.get("profile") else None
    if not scales:
        return 1.0
    code = trends.group_codes(_profile_series(frame, fit["profile"]["column"]),
                              fit["profile"]["labels"])[0]
    return np.where(code >= 0, np.asarray(scales)[np.maximum(code, 0)], 1.0)


def _target_of(frame: pd.DataFrame, fit: dict) -> np.ndarray:
    """The fitted quantity: the target in its space (a clock target: minutes after its
    start column, a missing start counting as the start's median)."""
    y = numbers(frame[fit["column"]])
    if fit["space"] == "clock":
        start = numbers(frame[fit["clock"]["start"]])
        return _clock_gap(y, np.where(np.isnan(start), fit["clock"]["fill"], start))
    return _to_target(y, fit["space"], fit["shifts"][-1], fit.get("cdf"))


def _cuts(distinct: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Where decoding moves from one real value to the next: the points at which a smoothed
    real CDF (Gaussian kernel, two median spacings wide) reaches each value's cumulative share,
    kept strictly between the two values so that every real value decodes to itself.
    Midpoints (nearest value) would give each value a share proportional to its gap: values
    with more rows than their neighbours (diamonds `carat` 1.00 next to 0.99, Fahrenheit
    readings converted from whole Celsius degrees) would lose their peaks."""
    if len(distinct) < 2:
        return np.zeros(0)
    gaps = np.diff(distinct)
    mass = np.bincount(np.searchsorted(distinct, y), minlength=len(distinct)) / len(y)
    h = 2.0 * float(np.median(gaps))
    points = np.sort(np.concatenate([distinct, distinct[:-1] + gaps / 2.0]))
    smooth = np.zeros(len(points))
    for i in range(0, len(distinct), 256):  # [points, 256] blocks bound the memory
        smooth += (ndtr((points[:, None] - distinct[None, i:i + 256]) / h)
                   * mass[None, i:i + 256]).sum(axis=1)
    at = np.interp(np.cumsum(mass)[:-1], smooth, points)
    return np.clip(at, distinct[:-1] + 0.01 * gaps, distinct[1:] - 0.01 * gaps)


def _design(frame: pd.DataFrame, fit: dict) -> np.ndarray:
    """[f(source) ..., 1] per row (without the trend)."""
    space = _pred_space(fit["space"])
    cols = [_forward_values(np.where(np.isnan(x := numbers(frame[p])), v, x), space, s)
            for p, v, s in zip(fit["sources"], fit["fill"], fit["shifts"])]
    if fit.get("quadratic"):
        cols.append(_products(np.column_stack(cols)))
    return np.column_stack(cols + [np.ones(len(frame))])


def _prediction(frame: pd.DataFrame, fit: dict) -> np.ndarray:
    columns = []
    trend = fit["trend"]
    if trend:
        code = trends.group_of(frame, trend["group"], trend["labels"])[0]
        columns.append(trends.predict(trend, trends.key_values(frame, trend["key"]), code))
    if fit["profile"]:
        columns.append(_profile_values(fit["profile"], frame))
    return np.column_stack(columns + [_design(frame, fit)]) @ np.asarray(fit["coef"])


def _profile_values(profile: dict, frame: pd.DataFrame) -> np.ndarray:
    code = trends.group_codes(_profile_series(frame, profile["column"]), profile["labels"])[0]
    return np.where(code >= 0, np.asarray(profile["means"])[np.maximum(code, 0)], 0.0)


def _keeps_marginal(df: pd.DataFrame, fit: dict, loose: bool = False) -> bool:
    """Does a residual drawn apart from its predictors still decode to the real marginal?
    TV over the real values for a column with few of them, within 1.5x the split-half noise
    plus 0.02 (`loose`: 2x plus 0.03, `_lone_trends`); else Kolmogorov-Smirnov <= _MAX_KS.
    (At 2x + 0.03, nyc_weather `dewp ~ temp + humid` passed with TV 0.130 against noise
    0.063, and `dewp` alone then gave the generated rows away: detection 0.594.)"""
    present = df[df[fit["column"]].notna()]
    rng = np.random.default_rng(3)
    sample = present.iloc[rng.choice(len(present), min(len(present), _CHECK_ROWS),
                                     replace=False)].reset_index(drop=True)
    real = numbers(sample[fit["column"]])
    shuffled = forward(sample, [fit])
    shuffled[fit["column"]] = rng.permutation(shuffled[fit["column"]].to_numpy())
    back = numbers(restore(shuffled, [fit])[fit["column"]])
    if fit["values"] is not None or fit.get("cdf"):
        half = rng.permutation(real)
        noise = _tv(half[: len(half) // 2], half[len(half) // 2:])
        return _tv(back, real) <= (2 * noise + 0.03 if loose else 1.5 * noise + 0.02)
    return bool(ks_2samp(back, real).statistic <= _MAX_KS)


def _tv(a: np.ndarray, b: np.ndarray) -> float:
    va = pd.Series(a).value_counts(normalize=True)
    vb = pd.Series(b).value_counts(normalize=True)
    return float(0.5 * va.sub(vb, fill_value=0.0).abs().sum())


def forward(df: pd.DataFrame, fits: list[dict]) -> pd.DataFrame:
    """`df` with every target column replaced by its residual (float64; missing stays NaN)."""
    if not fits:
        return df
    out = df.copy()
    for fit in fits:
        if fit["space"] == "circ":  # the wrapped difference from the trend's direction
            y = numbers(df[fit["column"]])
            r = np.rad2deg(trends.wrap(np.deg2rad(y - _angle_of(df, fit))))
            tie = fit["circ"]["tie"]
            if tie:  # a tied value is no direction: its residual carries nothing
                r = np.where(y == tie["value"], 0.0, r)
            out[fit["column"]] = pd.Series(r, index=df.index, name=fit["column"])
            continue
        ty = _target_of(df, fit)
        out[fit["column"]] = pd.Series((ty - _prediction(df, fit)) / _spread(fit, df),
                                       index=df.index, name=fit["column"])
    return out


def restore(frame: pd.DataFrame, fits: list[dict]) -> pd.DataFrame:
    """Decoded residuals back to their columns, in place: prediction + residual, then the
    column's own rounding, range and dtype. Returns `frame`."""
    for fit in fits:
        r = numbers(frame[fit["column"]])
        missing = np.isnan(r)
        if fit["space"] == "circ":
            low = fit["circ"]["low"]
            v = np.mod(_angle_of(frame, fit) + np.where(missing, 0.0, r) - low, 360.0) + low
        else:
            v = _prediction(frame, fit) + np.where(missing, 0.0, r) * _spread(fit, frame)
        if fit["space"] in ("log", "logt"):
            v = np.exp(np.minimum(v, 700.0)) - fit["shifts"][-1]
        if fit["space"] == "rank":  # the value whose CDF step holds Phi(score)
            vals, cum = (np.asarray(a) for a in fit["cdf"])
            v = vals[np.minimum(np.searchsorted(cum, ndtr(v)), len(vals) - 1)]
        elif fit["values"] is not None:
            v = np.asarray(fit["values"])[np.searchsorted(np.asarray(fit["cuts"]), v)]
        if fit["space"] == "clock":
            start = numbers(frame[fit["clock"]["start"]])
            v = clocks.clock_sum(np.where(np.isnan(start), fit["clock"]["fill"], start),
                                 np.round(v), fit["clock"]["midnight_2400"])
        tie = fit["circ"]["tie"] if fit["space"] == "circ" else None
        if tie:  # the tied value wherever the other column sits on its mass (calm)
            v = np.where(numbers(frame[tie["column"]]) == tie["other"], tie["value"], v)
        codec = NumberCodec.from_dict(fit["codec"])
        frame[fit["column"]] = codec.from_float(
            v, missing if fit["has_missing"] else None).values
    return frame


def entries(schema_entries: list[dict], fits: list[dict]) -> list[dict]:
    """Schema entries with each target re-typed as the float residual it is encoded as."""
    targets = {f["column"] for f in fits}
    return [{**e, "role": "numerical", "dtype": "float64"} if e["name"] in targets else e
            for e in schema_entries]


def reads(fit: dict) -> set[str]:
    """The columns a fit's prediction reads (restored before its target)."""
    trend, profile, clock = fit.get("trend"), fit.get("profile"), fit.get("clock")
    return set(fit["sources"]) | set(trend["key"]["columns"] if trend else ()) \
        | ({trend["group"]} if trend and trend["group"] else set()) \
        | set(_as_tuple(profile["column"] if profile else None)) \
        | ({clock["start"]} if clock else set()) \
        | ({fit["circ"]["tie"]["column"]} if fit.get("circ") and fit["circ"]["tie"] else set())


def describe(fit: dict) -> str:
    f = "log " if fit["space"] == "log" else ""
    parts = [f + s for s in fit["sources"]]
    if fit.get("profile"):
        parts.insert(0, f"profile({' x '.join(_as_tuple(fit['profile']['column']))})")
    if fit.get("trend"):
        t = fit["trend"]
        group = f" | {t['group']}" if t["group"] else ""
        parts.insert(0, f"trend({trends.key_name(t['key'])}{group}, {t['run_rows']}-row runs)")
    if fit.get("clock"):
        parts.insert(0, f"clock({fit['clock']['start']})")
    if fit.get("quadratic"):
        parts.append("second-order terms")
    if fit["space"] == "circ" and fit["circ"]["tie"]:
        tie = fit["circ"]["tie"]
        parts.append(f"{fit['circ']['tie']['value']:g} where {tie['column']} = {tie['other']:g}")
    return (f"{fit['column']} ~ {' + '.join(parts)} ({fit['space']}, R^2 {fit['r2']:.4f}; "
            f"encoded as the residual)")
