"""Keyset rules (`pipeline/tabular/keysets.py`): a category that a key narrows to a few values
is redrawn from the key's own values on decode, before the fits and rules that read it
(`pipeline/tabular/decode_order.py`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chisquare

import pipeline
from pipeline.data.schema import build_schema, infer_roles
from pipeline.tabular import decode_order, keysets

TINY = {"steps": 150, "batch_size": 200, "pac": 4, "embedding_dim": 16,
        "generator_dims": [32, 32], "discriminator_dims": [32, 32], "accelerator": "cpu"}
DESTS = [f"D{i:02d}" for i in range(30)]


def routes(n: int = 20000, seed: int = 4) -> pd.DataFrame:
    """5 carriers share flight numbers 1-200; each (carrier, flight) flies to its main
    destination 85 % of the time and to a second one otherwise; `minutes` is set by the
    destination (plus a little noise)."""
    rng = np.random.default_rng(seed)
    keys = np.random.default_rng(0).integers(0, len(DESTS), (5, 200, 2))
    carrier = rng.integers(0, 5, n)
    flight = rng.integers(1, 201, n)
    second = rng.random(n) < 0.15
    dest = keys[carrier, flight - 1, second.astype(int)]
    minutes = 40.0 + 12.0 * dest + rng.normal(0, 3, n)
    return pd.DataFrame({"carrier": np.array(list("ABCDE"))[carrier], "flight": flight,
                         "dest": np.array(DESTS)[dest], "minutes": minutes.round(1)})


def schema_of(df: pd.DataFrame) -> dict:
    return build_schema(df, infer_roles(df, {}), "t", None, [])


def stored_pairs(rule: dict) -> set[tuple]:
    return {tuple(p) for p in rule["pairs"]}


def on_set(frame: pd.DataFrame, rule: dict) -> np.ndarray:
    cols = rule["key"] + rule["columns"]
    pairs = stored_pairs(rule)
    return np.array([tuple(v) in pairs for v in frame[cols].itertuples(index=False)])


def test_a_flights_destination_is_redrawn_from_its_own_routes() -> None:
    real = routes()
    rules = keysets.discover(real, schema_of(real), set())
    assert [(r["key"], r["columns"]) for r in rules] == [(["carrier", "flight"], ["dest"])]
    rule = rules[0]
    # a generator with the marginals but not the routes: destinations drawn independently
    rng = np.random.default_rng(1)
    drawn = real.copy()
    drawn["dest"] = rng.permutation(real["dest"].to_numpy())
    drawn.loc[:99, "flight"] = 999  # a key the table lacks keeps its destination
    before = on_set(drawn, rule)
    assert before.mean() < 0.15
    fixed = drawn.copy()
    keysets.apply(fixed, rule, np.random.default_rng(2))
    assert on_set(fixed, rule)[100:].all()
    assert fixed["dest"].iloc[:100].equals(drawn["dest"].iloc[:100])
    assert (fixed["dest"] == drawn["dest"])[before].all()  # on its set: kept as generated
    assert fixed["dest"].dtype == drawn["dest"].dtype and fixed["flight"].equals(drawn["flight"])


def test_a_redrawn_value_comes_at_its_share_of_the_keys_rows() -> None:
    rule = {"kind": "keyset", "key": ["k"], "columns": ["t"],
            "pairs": [[1, "x"], [1, "y"], [1, "z"], [2, "x"]], "counts": [6, 3, 1, 5]}
    frame = pd.DataFrame({"k": [1] * 5000, "t": ["w"] * 5000})
    keysets.apply(frame, rule, np.random.default_rng(3))
    got = frame["t"].value_counts().reindex(["x", "y", "z"]).fillna(0).to_numpy()
    assert chisquare(got, 5000 * np.array([0.6, 0.3, 0.1])).pvalue > 1e-3
    other = pd.DataFrame({"k": [2, 2, 1], "t": ["y", "x", "z"]})
    keysets.apply(other, rule, np.random.default_rng(4))
    assert other["t"].tolist() == ["x", "x", "z"]


def test_the_key_generated_rows_can_hold_wins_over_an_equally_narrow_sparse_one() -> None:
    """`route` (200 values) and the pair (`a`, `b`) name the same 200 keys and narrow `dest`
    alike; only 200 of the 1,600 (`a`, `b`) pairs occur, so a generated pair is rarely one of
    them (reach 1/8), while any generated `route` is: the rule keys `dest` by `route`."""
    rng = np.random.default_rng(6)
    route = rng.integers(0, 200, 20000)
    combo = np.random.default_rng(7).permutation(1600)[:200]
    main = np.random.default_rng(8).integers(0, len(DESTS), (200, 2))
    dest = main[route, (rng.random(20000) < 0.15).astype(int)]
    real = pd.DataFrame({"route": route, "a": [f"a{v}" for v in combo[route] // 40],
                         "b": [f"b{v}" for v in combo[route] % 40],
                         "dest": np.array(DESTS)[dest]})
    rules = keysets.discover(real, schema_of(real), set())
    assert [r["key"] for r in rules if "dest" in r["columns"]] == [["route"]]


def test_a_chain_of_keys_is_drawn_as_one_joint_set() -> None:
    """Each departure slot has two flight numbers (80 / 20 %), each flight number one
    destination: `flight` is narrowed by `slot` and `dest` by `flight`; drawn as a chain a
    redrawn flight would keep a destination the slot never flies to, so both come from the
    slot's (flight, dest) pairs."""
    rng = np.random.default_rng(9)
    slot = rng.integers(0, 300, 20000)
    flights = np.random.default_rng(10).permutation(2000)[:600].reshape(300, 2)
    flight = flights[slot, (rng.random(20000) < 0.2).astype(int)]
    dest_of = np.random.default_rng(11).integers(0, len(DESTS), 2000)
    real = pd.DataFrame({"slot": slot, "flight": flight, "dest": np.array(DESTS)[dest_of[flight]],
                         "noise": rng.normal(size=20000)})
    rules = keysets.discover(real, schema_of(real), set())
    assert [(r["key"], sorted(r["columns"])) for r in rules] == [(["slot"], ["dest", "flight"])]


def test_no_rule_where_the_key_does_not_narrow_or_the_columns_are_taken() -> None:
    real = routes()
    loose = real.assign(dest=np.random.default_rng(5).permutation(real["dest"].to_numpy()))
    assert keysets.discover(loose, schema_of(loose), set()) == []
    assert keysets.discover(real, schema_of(real), {"dest"}) == []
    assert keysets.discover(real, schema_of(real), {"flight"}) == []
    assert keysets.discover(real.iloc[:900], schema_of(real), set()) == []


def test_a_pair_that_one_training_row_holds_is_not_stored() -> None:
    real = routes(n=8000)  # ~8 rows per key: some second destinations seen once
    rules = keysets.discover(real, schema_of(real), set())
    assert rules, "the rule is still found on 8,000 rows"
    counts = real.groupby(["carrier", "flight", "dest"]).size()
    assert stored_pairs(rules[0]) == set(counts[counts >= 2].index)
    assert (counts == 1).any()


def test_decoding_runs_a_keyset_rule_before_the_fits_and_rules_that_read_it() -> None:
    keyset = {"kind": "keyset", "key": ["carrier", "flight"], "columns": ["dest"]}
    distance = {"kind": "lookup2", "column": "distance", "sources": ["origin", "dest"]}
    nested = {"kind": "nested", "column": "tailnum", "parent": "carrier"}
    fit = {"column": "minutes", "sources": [], "trend": None, "clock": None,
           "profile": {"column": "dest"}}
    other = {"column": "delay", "sources": ["late"], "trend": None, "clock": None,
             "profile": None}
    order = [s.get("kind", s.get("column")) for _, s in
             decode_order.plan([distance, nested, keyset], [fit, other])]
    assert order == ["delay", "nested", "keyset", "minutes", "lookup2"]
    # without a cross dependency: every fit, then the rules in discovery order
    order = [s.get("kind", s.get("column")) for _, s in
             decode_order.plan([distance, nested], [fit, other])]
    assert order == ["minutes", "delay", "lookup2", "nested"]


def test_generated_rows_fly_real_routes_with_matching_times_end_to_end() -> None:
    real = routes()
    fitted = pipeline.Synthesizer(**TINY, seed=2).fit(real)
    state = fitted._transformer.to_dict()
    assert any(r["kind"] == "keyset" for r in state["constraints"])
    assert any(f["profile"] and f["profile"]["column"] == "dest" for f in state["residuals"])
    out = fitted.sample(4000, seed=3)
    counts = real.groupby(["carrier", "flight", "dest"]).size()
    seen = set(counts[counts >= 2].index)
    known = out.set_index(["carrier", "flight"]).index.isin(counts.index.droplevel(2))
    route = np.array([t in seen for t in out[["carrier", "flight", "dest"]]
                      .itertuples(index=False, name=None)])
    assert known.mean() > 0.5 and route[known].all()
    # the minutes were restored from the final destination: the profile fit reads it after
    # the rule has set it (restored before, they would follow the GAN's own destination)
    code = out["dest"].map({d: i for i, d in enumerate(DESTS)}).to_numpy()
    gap = np.abs(out["minutes"].to_numpy() - (40.0 + 12.0 * code))
    assert np.median(gap) < 10.0
