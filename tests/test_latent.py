"""Latent paths and directions (pipeline/latent.py), and table interpolation end to end."""

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline import latent


def test_path_endpoints_are_exact_and_norms_stay_on_the_shell():
    a, b = latent.seed_latent(64, 1)[0], latent.seed_latent(64, 2)[0]
    for spherical in (True, False):
        p = latent.path(a, b, 9, spherical=spherical)
        assert p.shape == (9, 64)
        assert torch.equal(p[0], a) and torch.equal(p[-1], b)
    mid = latent.path(a, b, 9)[4].norm()
    lin = latent.path(a, b, 9, spherical=False)[4].norm()
    assert lin < mid  # slerp keeps the Gaussian shell norm, lerp cuts through the middle
    with pytest.raises(ValueError):
        latent.path(a, b, 1)


def test_seed_latent_is_what_a_model_draws_first():
    gen = torch.Generator().manual_seed(5)
    assert torch.equal(latent.seed_latent(16, 5)[0], torch.randn(1, 16, generator=gen)[0])


def test_direction_points_from_b_to_a():
    z = torch.randn(4000, 8, generator=torch.Generator().manual_seed(0))
    in_a = z[:, 3] > 0
    d = latent.direction(z, in_a)
    assert d.abs().argmax() == 3 and d[3] > 1.2  # ~ 2 * E|N(0,1)| = 1.6
    with pytest.raises(ValueError):
        latent.direction(z, torch.ones(4000, dtype=torch.bool))


def test_table_interpolation_endpoints_equal_the_endpoint_samples(tmp_path):
    from pipeline.config import params_from_dict
    from pipeline.stages import generate, prepare, train
    from pipeline.tabular_latent import run_interpolate

    params = params_from_dict({
        "seed": 1, "prepare": {"dataset": "penguins", "target": "species"},
        "transform": {"constraints": False},
        "train": {"steps": 20, "batch_size": 50, "pac": 10, "calibrate": False,
                  "generator_dims": [32], "discriminator_dims": [32], "embedding_dim": 16,
                  "accelerator": "cpu", "checkpoint_every": 0}})
    prepare.run(params, tmp_path / "prep")
    train.run(params, tmp_path / "prep", tmp_path / "m.ckpt", tmp_path / "log")
    for seed in (3, 4):
        generate.run(params, tmp_path / "m.ckpt", tmp_path / f"s{seed}.parquet", rows=1,
                     seed=seed)
    run_interpolate(params, tmp_path / "m.ckpt", tmp_path / "path.parquet", (3, 4), 7)
    walk = pd.read_parquet(tmp_path / "path.parquet")
    assert len(walk) == 7 and list(walk["step"]) == list(range(7))
    rows = walk.drop(columns="step")
    for i, seed in ((0, 3), (6, 4)):
        end = pd.read_parquet(tmp_path / f"s{seed}.parquet")
        pd.testing.assert_frame_equal(rows.iloc[[i]].reset_index(drop=True), end,
                                      check_dtype=False)
    # under a condition every point of the path holds it (conditioned generate redraws rows
    # whose span came out wrong, so its first row is not the path's endpoint)
    run_interpolate(params, tmp_path / "m.ckpt", tmp_path / "cond.parquet", (3, 4), 7,
                    {"species": "Gentoo"})
    assert (pd.read_parquet(tmp_path / "cond.parquet")["species"] == "Gentoo").all()
    numeric = rows.select_dtypes("number")
    assert not np.allclose(numeric.iloc[3].to_numpy(float), numeric.iloc[0].to_numpy(float))


def test_api_interpolate_and_table_latent_arithmetic_moves_the_attribute():
    """Moving along the 'island=Biscoe minus Dream' direction raises the share of Biscoe rows."""
    from pipeline import Synthesizer
    from pipeline.data.registry import load_dataset
    from pipeline.tabular_latent import attribute_shift

    df = load_dataset("penguins")
    synth = Synthesizer(steps=150, batch_size=50, pac=10, calibrate=False,
                        generator_dims=[64], discriminator_dims=[64], embedding_dim=16,
                        accelerator="cpu", seed=0).fit(df, target="species")
    walk = synth.interpolate(1, 2, steps=5, conditions={"sex": "male"})
    assert len(walk) == 5 and (walk["sex"] == "male").all()
    free = synth.interpolate(1, 2, steps=5)
    pd.testing.assert_frame_equal(free.drop(columns="step").iloc[[0]].reset_index(drop=True),
                                  synth.sample(1, seed=1), check_dtype=False)
    shifted = attribute_shift(synth._model, synth._transformer, "island", "Biscoe", "Dream",
                              n=2000, seed=3)
    share = {k: float((rows["island"] == "Biscoe").mean()) for k, rows in shifted.items()}
    assert share[2.0] > share[0.0] + 0.05, share  # 2000 rows: se of a share ~0.011
