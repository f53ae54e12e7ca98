"""The contract between the transformer, the sampler and the model.

The transformed matrix is a concatenation of spans. A `scalar` span is one column in [-1, 1]
(the generator emits tanh); a `onehot` span is a block of mutually exclusive indicators (the
generator emits a Gumbel-softmax). `DiscreteColumn`s are the one-hot spans of categorical or
boolean columns that the conditional vector can select.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True)
class Span:
    column: str
    kind: Literal["scalar", "onehot"]
    start: int
    width: int

    @property
    def end(self) -> int:
        return self.start + self.width


@dataclass(frozen=True)
class DiscreteColumn:
    column: str
    span_start: int
    width: int
    categories: tuple[str, ...]


def spans_to_list(spans: list[Span]) -> list[dict]:
    return [asdict(s) for s in spans]


def spans_from_list(items: list[dict]) -> list[Span]:
    return [Span(**item) for item in items]


def discrete_to_list(cols: list[DiscreteColumn]) -> list[dict]:
    return [{**asdict(c), "categories": list(c.categories)} for c in cols]


def discrete_from_list(items: list[dict]) -> list[DiscreteColumn]:
    return [DiscreteColumn(**{**item, "categories": tuple(item["categories"])}) for item in items]


def total_width(spans: list[Span]) -> int:
    return spans[-1].end if spans else 0
