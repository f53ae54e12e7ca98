"""Density-ratio refinement (`pipeline/models/refine.py`): the kept rows follow the real
distribution where the raw draws do not; it stays off where there is nothing to correct; the
trained model samples exactly n refined rows, reproducibly, and keeps them in its checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy import stats

import pipeline
from pipeline.models.boosted import BoostedTrees
from pipeline.models.refine import Refiner, refined_sample


def _normal(mean: float, std: float, seed: int):
    gen = torch.Generator().manual_seed(seed)
    return lambda n: mean + std * torch.randn(n, 1, generator=gen)


def test_kept_rows_follow_the_real_distribution() -> None:
    torch.manual_seed(0)
    real = torch.randn(4000, 1)
    draw = _normal(0.8, 1.3, seed=1)  # a generator that is off in mean and spread
    refiner = Refiner()
    refiner.fit(real, draw, seed=0, max_draws=8)
    assert bool(refiner.on) and float(refiner.auc) > 0.6
    gen = torch.Generator().manual_seed(2)
    kept = refined_sample(refiner, draw, 4000, gen).squeeze(1).numpy()
    raw = draw(4000).squeeze(1).numpy()
    assert len(kept) == 4000
    assert stats.kstest(raw, "norm").pvalue < 1e-6
    # kept rows follow raw * min(ratio, M): N(0, 1) up to the trees' steps and the cap
    assert stats.kstest(kept, "norm").statistic < stats.kstest(raw, "norm").statistic / 4
    assert abs(kept.mean()) < 0.15 and abs(kept.std() - 1) < 0.1


def test_boosted_trees_score_as_the_fitted_booster_and_survive_a_state_dict() -> None:
    """The torch tables give sklearn's own decision values on unseen rows (same splits, same
    leaves), and a fresh module loaded from the state_dict gives them again."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6000, 6, generator=gen)
    y = ((x[:, 0] * x[:, 1] + 0.5 * x[:, 2] + 0.3 * torch.randn(6000, generator=gen)) > 0)
    clf = HistGradientBoostingClassifier(max_iter=60, max_depth=6, random_state=0)
    clf.fit(x.double().numpy(), y.numpy())
    trees = BoostedTrees()
    trees._load_booster(clf, torch.device("cpu"))
    fresh = torch.randn(5000, 6, generator=gen)
    want = torch.from_numpy(clf.decision_function(fresh.double().numpy())).float()
    assert trees.n_trees == 60 and int(trees.depth) <= 6
    assert torch.allclose(trees(fresh), want, atol=1e-4)
    # thresholds are exact for float32 rows: a row on a split value goes the booster's way
    on_split = fresh.clone()
    on_split[:, int(trees.feature[0, 0])] = float(trees.threshold[0, 0])
    want = torch.from_numpy(clf.decision_function(on_split.double().numpy())).float()
    assert torch.allclose(trees(on_split), want, atol=1e-4)
    again = BoostedTrees()
    again.load_state_dict(trees.state_dict())
    assert torch.equal(again(fresh), trees(fresh))


def test_trees_come_25_at_a_time_as_one_fit_would_give_and_stop_at_the_deadline() -> None:
    """Warm-started chunks of trees give the one-shot booster's trees (same decision values);
    a deadline already past stops after the first chunk (train.max_minutes)."""
    import time

    from sklearn.ensemble import HistGradientBoostingClassifier

    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6000, 6, generator=gen)
    y = ((x[:, 0] * x[:, 1] + 0.5 * x[:, 2] + 0.3 * torch.randn(6000, generator=gen)) > 0)
    options = {"learning_rate": 0.2, "max_depth": 6, "min_samples_leaf": 20}
    clf = HistGradientBoostingClassifier(
        max_iter=80, class_weight="balanced", early_stopping=True, validation_fraction=0.15,
        n_iter_no_change=10, random_state=4, **options).fit(x.double().numpy(), y.numpy())
    chunked, capped = BoostedTrees(), BoostedTrees()
    chunked.fit(x, y.float(), 4, max_iter=80, threads=1, **options)
    assert chunked.n_trees == clf.n_iter_ > 25
    want = torch.from_numpy(clf.decision_function(x.double().numpy())).float()
    assert torch.allclose(chunked(x), want, atol=1e-4)
    capped.fit(x, y.float(), 4, max_iter=80, threads=1, deadline=time.perf_counter() - 1,
               **options)
    assert capped.n_trees == 25


def test_refinement_stays_off_when_draws_already_look_real_or_the_table_is_tiny() -> None:
    torch.manual_seed(0)
    refiner = Refiner()
    refiner.fit(torch.randn(4000, 1), _normal(0.0, 1.0, seed=3), seed=0, max_draws=8)
    assert not bool(refiner.on)
    assert float(refiner.auc) < 0.55
    refiner.fit(torch.randn(500, 1), _normal(0.8, 1.3, seed=1), seed=0, max_draws=8)
    assert not bool(refiner.on)  # 500 rows: a classifier would learn the rows themselves


def test_trained_model_samples_refined_rows_reproducibly(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    df = pd.DataFrame({"x": x, "y": x ** 2 + rng.normal(scale=0.1, size=2000)})
    tiny = dict(steps=200, batch_size=200, pac=10, embedding_dim=16, generator_dims=[32, 32],
                discriminator_dims=[32, 32], accelerator="cpu", seed=1)
    # without residual encoding, which would hand the GAN y ~ trend(x) and leave the refiner
    # nothing to correct (held-out AUC < 0.55: off)
    # the decoded-row refiner off: the raw draws below are then the encoded refiner's input
    synth = pipeline.Synthesizer(**tiny, refine_rows_draws=None,
                                 transform={"residual_r2": None}).fit(df)
    model = synth._model
    assert bool(model.refiner.on) and bool(model.ref_on)
    a, b = synth.sample(1500, seed=5), synth.sample(1500, seed=5)
    assert len(a) == 1500
    pd.testing.assert_frame_equal(a, b)
    # marginals re-calibrated through the refiner: kept rows' x follows the real x
    assert stats.ks_2samp(a["x"], df["x"]).pvalue > 0.01
    model.ref_on.fill_(False)
    unmapped = synth.sample(1500, seed=5)
    model.ref_on.fill_(True)
    assert stats.ks_2samp(a["x"], df["x"]).statistic < stats.ks_2samp(unmapped["x"],
                                                                     df["x"]).statistic
    refined = np.abs(a["y"] - a["x"] ** 2).mean()
    model.refiner.on.fill_(False)
    raw = synth.sample(1500, seed=5)
    # the undertrained generator misses y = x^2; the kept rows keep it much better
    assert refined < 0.6 * np.abs(raw["y"] - raw["x"] ** 2).mean()
    model.refiner.on.fill_(True)
    path = tmp_path / "m.ckpt"
    synth.save(path)
    again = pipeline.Synthesizer.load(path)
    pd.testing.assert_frame_equal(again.sample(1500, seed=5), a)


def test_refined_rows_keep_the_real_rates_of_the_only_discrete_column() -> None:
    """One discrete column (txhousing `city`): every generated row is conditioned on it, so
    logit offsets cannot move its rates, and the refiner keeps some categories' rows more
    often than others (here a and b, whose x sits in two narrow modes, are drawn worse than
    c and d). The condition rates re-fitted through the refiner (`gen_bias`) bring them back:
    TV 0.046 -> 0.010 on this table
    (60,000 rows: the rates' own sampling noise is ~0.003)."""
    rng = np.random.default_rng(0)
    n = 3000
    g = rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1])
    centre = {"a": 0.0, "b": 3.0, "c": 6.0, "d": 9.0}
    y = np.array([centre[k] for k in g]) + rng.normal(0, [0.05 if k in "ab" else 1.0
                                                          for k in g])
    x = np.where(np.isin(g, ["a", "b"]),
                 2 * np.sign(rng.normal(size=n)) + 0.05 * rng.normal(size=n), rng.normal(size=n))
    df = pd.DataFrame({"g": g, "y": y, "x": x})
    tiny = dict(steps=150, batch_size=200, pac=10, embedding_dim=16, generator_dims=[32, 32],
                discriminator_dims=[32, 32], accelerator="cpu", seed=1)
    # residual encoding off: y ~ trend(x | g) would leave the refiner little to correct
    synth = pipeline.Synthesizer(**tiny, refine_rows_draws=None,
                                 transform={"residual_r2": None}).fit(df)
    sampler = synth._model.sampler
    assert bool(synth._model.refiner.on) and bool(sampler.gen_bias.any())
    real = df["g"].value_counts(normalize=True).sort_index()

    def tv(rows: pd.DataFrame) -> float:
        got = rows["g"].value_counts(normalize=True).reindex(real.index).fillna(0.0)
        return 0.5 * float((got - real).abs().sum())

    fitted = tv(synth.sample(60000, seed=5))
    sampler.gen_bias.zero_()
    assert fitted < 0.015 and tv(synth.sample(60000, seed=5)) > 3 * fitted


def test_max_minutes_caps_the_rounds_and_the_refiner_together(caplog) -> None:
    """With a refiner to fit, the rounds stop at 85 % of train.max_minutes and the trees at
    95 %: a cap already spent after the first round leaves one round and one chunk of trees,
    and no decoded-row refiner."""
    import logging

    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    df = pd.DataFrame({"x": x, "y": x ** 2 + rng.normal(scale=0.1, size=2000)})
    tiny = dict(steps=300, batch_size=200, pac=10, embedding_dim=16, generator_dims=[32, 32],
                discriminator_dims=[32, 32], accelerator="cpu", seed=1, max_minutes=1e-4)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        synth = pipeline.Synthesizer(**tiny, transform={"residual_r2": None}).fit(df)
    assert "train.max_minutes (0.0001, 85% of it for the GAN with the refiner to fit) " \
        "reached after 1 of 3 rounds" in caplog.text
    assert synth._trainer.current_epoch == 1 and 0 < synth._model.refiner.trees.n_trees <= 25
    # past the deadline the decoded-row refiner is not fitted at all: the cap holds
    assert "no time left for the decoded-row refiner" in caplog.text
    assert not bool(synth._model.row_refiner.on) and synth._model.row_refiner.trees.n_trees == 0
