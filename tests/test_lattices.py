"""Joint lattices (`pipeline/tabular/lattices.py`): a column whose value set depends on the
exact value of another is moved onto its lattice on decode."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

import pipeline
from pipeline.data.schema import build_schema, infer_roles
from pipeline.tabular import lattices

TINY = {"steps": 100, "batch_size": 100, "pac": 4, "embedding_dim": 16,
        "generator_dims": [32, 32], "discriminator_dims": [32, 32], "accelerator": "cpu"}


def pass_rates(n: int = 20000, seed: int = 5) -> pd.DataFrame:
    """A class of `size` pupils, `rate` = the % who passed (1 decimal): each size allows its
    own few rates (70.0 and 71.7 with 60 pupils, 70.5 with 61), a lattice of the pair."""
    rng = np.random.default_rng(seed)
    size = rng.integers(60, 100, n)
    passed = rng.binomial(size, rng.uniform(0.3, 0.95, n))
    return pd.DataFrame({"size": size, "rate": np.round(100 * passed / size, 1),
                         "hours": rng.gamma(2.0, 3.0, n).round(1)})


def schema_of(df: pd.DataFrame) -> dict:
    return build_schema(df, infer_roles(df, {}), "t", None, [])


def on_pairs(frame: pd.DataFrame, real: pd.DataFrame) -> float:
    seen = pd.MultiIndex.from_frame(real[["size", "rate"]])
    return float(pd.MultiIndex.from_frame(frame[["size", "rate"]]).isin(seen).mean())


def test_a_rate_is_snapped_onto_the_values_its_class_size_allows() -> None:
    real = pass_rates()
    rules = lattices.discover(real, schema_of(real), set(), set(), 2000)
    assert [(r["column"], r["source"]) for r in rules] == [("rate", "size")]
    # a generator that has the marginals but not the lattice: each rate blurred by 2 points
    rng = np.random.default_rng(1)
    drawn = real.copy()
    drawn["rate"] = np.clip(real["rate"] + rng.normal(0, 2, len(real)).round(1), 0, 100)
    assert on_pairs(drawn, real) < 0.1
    snapped = drawn.copy()
    lattices.snap(snapped, rules[0], np.random.default_rng(3))
    assert on_pairs(snapped, real) == 1.0
    # a correction, not a redraw: a move under the blur, the marginal no further from real
    assert np.abs(snapped["rate"] - drawn["rate"]).mean() < 0.5
    assert ks_2samp(snapped["rate"], real["rate"]).statistic <= \
        ks_2samp(drawn["rate"], real["rate"]).statistic + 0.002
    assert snapped["size"].equals(drawn["size"]) and snapped["rate"].dtype == real["rate"].dtype


def test_no_rule_on_a_dense_joint_or_on_columns_others_use() -> None:
    rng = np.random.default_rng(2)
    size = rng.integers(60, 100, 20000)
    dense = pd.DataFrame({"size": size, "score": np.round(size + rng.normal(0, 5, 20000)),
                          "hours": rng.gamma(2.0, 3.0, 20000).round(1)})
    # every score occurs next to every nearby size: pairs cover the holdout, moved or not
    assert lattices.discover(dense, schema_of(dense), set(), set(), 2000) == []
    real = pass_rates()
    # `read`: a residual fit reads the rate (never snapped); `fixed`: another rule's column
    assert lattices.discover(real, schema_of(real), set(), {"rate"}, 2000) == []
    assert lattices.discover(real, schema_of(real), {"size"}, set(), 2000) == []
    assert lattices.discover(real.iloc[:900], schema_of(real), set(), set(), 2000) == []


def test_a_pair_that_one_training_row_holds_is_not_stored() -> None:
    real = pass_rates()
    rule = lattices.discover(real, schema_of(real), set(), set(), 2000)[0]
    counts = real.groupby(["size", "rate"]).size()
    keys, starts = np.asarray(rule["keys"]), np.asarray(rule["starts"])
    stored = {(k, v) for i, k in enumerate(keys)
              for v in rule["values"][starts[i]:starts[i + 1]]}
    assert stored == set(counts[counts >= 2].index)
    assert (counts == 1).any()  # there are such pairs to leave out


def test_generated_rows_keep_the_lattice_end_to_end() -> None:
    real = pass_rates()
    fitted = pipeline.Synthesizer(**TINY, seed=2).fit(real)
    out = fitted.sample(3000, seed=3)
    counts = real.groupby(["size", "rate"]).size()
    seen = pd.MultiIndex.from_tuples(counts[counts >= 2].index)
    assert pd.MultiIndex.from_frame(out[["size", "rate"]]).isin(seen).mean() == 1.0
    without = pipeline.Synthesizer(**TINY, seed=2, transform={"constraints": False}) \
        .fit(real).sample(3000, seed=3)
    assert on_pairs(without, real) < 0.5  # the GAN alone lands off the lattice


def test_a_value_between_two_set_values_goes_to_each_by_rows_and_distance() -> None:
    """Lower value with probability c_lo d_hi / (c_lo d_hi + c_hi d_lo): here 3 rows hold 15
    and 1 holds 25, a generated 20 lies halfway, so 15 should come 3 times in 4 (binomial)."""
    from scipy.stats import binomtest

    rule = {"kind": "lattice", "column": "b", "source": "a", "keys": [1.0, 2.0],
            "starts": [0, 3, 5], "values": [10.0, 20.0, 30.0, 15.0, 25.0],
            "counts": [2, 2, 2, 3, 1]}
    frame = pd.DataFrame({"a": [2] * 4000, "b": [20.0] * 4000})
    lattices.snap(frame, rule, np.random.default_rng(1))
    assert set(frame["b"]) == {15.0, 25.0}
    assert binomtest(int((frame["b"] == 15.0).sum()), 4000, 0.75).pvalue > 1e-3
    # on a set value, beyond the set's ends, an unknown source value, a missing target
    edge = pd.DataFrame({"a": [1, 1, 1, 3, 2], "b": [20.0, 4.0, 99.0, 17.0, np.nan]})
    lattices.snap(edge, rule, np.random.default_rng(2))
    assert edge["b"].tolist()[:4] == [20.0, 10.0, 30.0, 17.0] and np.isnan(edge["b"].iloc[4])
