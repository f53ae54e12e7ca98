"""Generation conditions: parse, validate against the schema/transformer, and plan them.

One code path for `synth generate --condition`, `generate.conditions` and
`Synthesizer.sample(n, conditions=...)`. A condition is `{column: value}`:

* categorical/boolean column, any value the model saw: conditioned natively (every such column
  goes into the one condition vector; the generator was trained with any-way condition
  vectors, `train.cond_anyway`), and the generated span is then forced to the value, so it holds
  in every row;
* numeric (numerical/integer) column: a range, `">=60"`, `">60"`, `"<=5"`, `"<5"`,
  `"1000..2000"` (inclusive; either end may be left out), a number (equality, for integer
  lattices), or a `[lo, hi]` pair (None: open). Ranges are kept by bounded, seeded rejection in
  `stages/generate.py`: the rows the model draws under the discrete conditions are filtered.

CLI strings `COLUMN=VALUE`, `COLUMN>=X`, `COLUMN<X`, `COLUMN=A..B` go through `parse_cli`.
Every problem (unknown column or value, a column that cannot be conditioned, an empty range or
one outside what the model saw) is a one-line UserError.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from pipeline.errors import UserError

DISCRETE = ("categorical", "boolean")
NUMERIC = ("numerical", "integer")
_CLI = re.compile(r"^(?P<col>[^<>=]+?)\s*(?P<op>>=|<=|>|<|=)\s*(?P<val>.*)$")
_OP = re.compile(r"^\s*(?P<op>>=|<=|>|<)\s*(?P<num>.+)$")


@dataclass(frozen=True)
class NumericRange:
    """lo <(=) column <(=) hi; +-inf for an open end."""

    column: str
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def holds(self, values: pd.Series) -> np.ndarray:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        low = x > self.lo if self.lo_open else x >= self.lo
        high = x < self.hi if self.hi_open else x <= self.hi
        return low & high  # NaN (missing) never holds

    def __str__(self) -> str:
        if self.lo == self.hi:
            return f"{self.column}={_num(self.lo)}"
        if math.isinf(self.hi):
            return f"{self.column}{'>' if self.lo_open else '>='}{_num(self.lo)}"
        if math.isinf(self.lo):
            return f"{self.column}{'<' if self.hi_open else '<='}{_num(self.hi)}"
        return f"{self.column}={_num(self.lo)}..{_num(self.hi)}"


@dataclass
class ConditionPlan:
    """Native (discrete column, category) pairs, a keep/set mask pair forcing their one-hot
    spans (`row * keep + value`), and the numeric ranges kept by rejection."""

    pairs: list[tuple[int, int]] = field(default_factory=list)
    spans: list[tuple[int, int, int]] = field(default_factory=list)  # (start, width, category)
    keep: torch.Tensor | None = None
    value: torch.Tensor | None = None
    ranges: list[NumericRange] = field(default_factory=list)
    text: str = ""

    @property
    def active(self) -> bool:
        return bool(self.pairs or self.ranges)

    def native_match(self, matrix: torch.Tensor) -> torch.Tensor:
        """[rows] bool: every conditioned span already came out at its category."""
        ok = torch.ones(matrix.shape[0], dtype=torch.bool, device=matrix.device)
        for start, width, category in self.spans:
            ok &= matrix[:, start:start + width].argmax(1) == category
        return ok

    def apply(self, matrix: torch.Tensor) -> torch.Tensor:
        if self.keep is None:
            return matrix
        return matrix * self.keep.to(matrix.device) + self.value.to(matrix.device)

    def mask(self, frame: pd.DataFrame, transformer: Any) -> np.ndarray:
        """[rows] bool: real (or decoded) rows of `frame` that meet every condition."""
        ok = self.holds(frame)
        if self.spans:
            matrix = torch.as_tensor(transformer.transform(frame))
            ok &= self.native_match(matrix).numpy()
        return ok

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        """[rows] bool: every numeric range holds in the decoded rows."""
        ok = np.ones(len(frame), dtype=bool)
        for r in self.ranges:
            ok &= r.holds(frame[r.column])
        return ok


def parse_cli(items: tuple[str, ...] | list[str]) -> dict[str, str] | None:
    """`COLUMN=VALUE` / `COLUMN>=X` / `COLUMN=A..B` strings -> {column: value string}."""
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        m = _CLI.match(item)
        if not m or not m["col"].strip():
            raise UserError(f"--condition must look like COLUMN=VALUE, COLUMN>=X or "
                            f"COLUMN=A..B, got '{item}'")
        op = m["op"]
        out[m["col"].strip()] = m["val"] if op == "=" else op + m["val"]
    return out


def plan_conditions(transformer: Any, schema: dict, conditions: dict[str, Any] | None
                    ) -> ConditionPlan:
    """Validate {column: value} against the schema and transformer (UserError on any problem)."""
    if not conditions:
        return ConditionPlan()
    columns = {c["name"]: c for c in schema["columns"]}
    width = transformer.output_width
    plan = ConditionPlan(keep=torch.ones(width), value=torch.zeros(width))
    texts = []
    for column, wanted in conditions.items():
        if column not in columns:
            shown = ", ".join(list(columns)[:10]) + (", ..." if len(columns) > 10 else "")
            raise UserError(f"cannot condition on '{column}': no such column (columns: {shown})")
        role = columns[column]["role"]
        if role in NUMERIC:
            r = numeric_range(column, wanted, columns[column])
            plan.ranges.append(r)
            texts.append(str(r))
            continue
        if role not in DISCRETE:
            raise UserError(f"cannot condition on '{column}' ({role}): only categorical/boolean "
                            f"columns (a value) and numeric columns (a range) can be conditioned")
        d_index, category = transformer.condition(column, wanted)
        span = transformer.discrete[d_index]
        plan.keep[span.span_start:span.span_start + span.width] = 0.0
        plan.value[span.span_start + category] = 1.0
        plan.pairs.append((d_index, category))
        plan.spans.append((span.span_start, span.width, category))
        texts.append(f"{column}={wanted}")
    if not plan.pairs:
        plan.keep = plan.value = None
    plan.text = ", ".join(texts)
    return plan


def numeric_range(column: str, wanted: Any, info: dict) -> NumericRange:
    """A NumericRange from a condition value, checked against the column's real min/max."""
    r = _parse_range(column, wanted)
    if r.lo > r.hi or (r.lo == r.hi and (r.lo_open or r.hi_open)):
        raise UserError(f"condition {r}: the range is empty")
    lo, hi = info.get("min"), info.get("max")
    if lo is not None and hi is not None:
        below = r.hi < lo or (r.hi == lo and r.hi_open)
        above = r.lo > hi or (r.lo == hi and r.lo_open)
        if below or above:
            raise UserError(f"condition {r}: the model never saw such a value ('{column}' "
                            f"ranges {_num(lo)}..{_num(hi)} in the training data)")
    return r


def _parse_range(column: str, wanted: Any) -> NumericRange:
    bad = UserError(f"condition on numeric column '{column}' must be a range like '>=60', "
                    f"'<5', '1000..2000', a number or [lo, hi]; got {wanted!r}")
    if isinstance(wanted, bool) or wanted is None:
        raise bad
    if isinstance(wanted, (int, float)):
        return NumericRange(column, float(wanted), float(wanted))
    if isinstance(wanted, (list, tuple)):
        if len(wanted) != 2:
            raise bad
        lo, hi = (_float(v, bad, -math.inf if i == 0 else math.inf) for i, v in enumerate(wanted))
        return NumericRange(column, lo, hi)
    text = str(wanted).strip()
    m = _OP.match(text)
    if m:
        num = _float(m["num"], bad, None)
        op = m["op"]
        if op.startswith(">"):
            return NumericRange(column, lo=num, lo_open=op == ">")
        return NumericRange(column, hi=num, hi_open=op == "<")
    if ".." in text:
        a, _, b = text.partition("..")
        return NumericRange(column, _float(a, bad, -math.inf), _float(b, bad, math.inf))
    num = _float(text, bad, None)
    return NumericRange(column, num, num)


def _float(value: Any, bad: UserError, empty: float | None) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        if empty is None:
            raise bad
        return empty
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise bad from None
    if math.isnan(out):
        raise bad
    return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
