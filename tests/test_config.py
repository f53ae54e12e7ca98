"""params.yaml validation: unknown keys, wrong types and bad values are one-line errors."""

from pathlib import Path

import pytest

from pipeline.config import Params, load_params, params_from_dict
from pipeline.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def test_repo_params_yaml_loads_and_has_every_section():
    params = load_params(ROOT / "params.yaml")
    assert isinstance(params, Params)
    assert params.train.batch_size % params.train.pac == 0


def test_missing_sections_take_defaults():
    params = params_from_dict({"seed": 7})
    assert params.seed == 7
    assert params.train.epochs == Params().train.epochs


def test_ints_are_accepted_where_floats_are_expected():
    params = params_from_dict({"train": {"gp_weight": 5}})
    assert params.train.gp_weight == 5.0 and isinstance(params.train.gp_weight, float)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"trian": {}}, "unknown params section(s): trian"),
        ({"train": {"epochz": 3}}, "unknown params key(s): train.epochz"),
        ({"train": {"epochs": "ten"}}, "params key train.epochs: expected int"),
        ({"train": {"epochs": True}}, "params key train.epochs: expected int"),
        ({"train": {"generator_dims": [256, "x"]}}, "train.generator_dims"),
        ({"train": {"batch_size": 505}}, "multiple of train.pac"),
        ({"train": {"checkpoint_every": -1}}, "train.checkpoint_every must be >= 0"),
        ({"train": {"checkpoint_minutes": 0}}, "train.checkpoint_minutes must be > 0 or null"),
        ({"prepare": {"holdout_fraction": 1.5}}, "prepare.holdout_fraction must be in (0, 1)"),
        ({"transform": {"numerical": "kde"}}, "params key transform.numerical"),
        ({"gate": {"thresholds": {"fidelity.overall": "high"}}}, "gate.thresholds"),
        ({"seed": 1.5}, "params key seed: expected int"),
        ({"train": [1, 2]}, "params section 'train' must be a mapping"),
        ({"train": {"privacy": {"epsilon": 3}, "calibrate": False}},
         "train.pac must be 1 with train.privacy"),
        ({"train": {"privacy": {"epsilon": 3}, "pac": 1}},
         "train.calibrate must be false with train.privacy"),
        ({"train": {"privacy": {"epsilon": 3, "noise_multiplier": 1.0}}}, "not both"),
        ({"train": {"privacy": {"epsilon": 0}}}, "train.privacy.epsilon must be > 0"),
        ({"train": {"privacy": {"delta": 1.5}}}, "train.privacy.delta must be in (0, 1)"),
        ({"train": {"privacy": {"accountant": "gdp"}}}, "train.privacy.accountant"),
        ({"train": {"privacy": {"epsilon": 3}, "pac": 1, "calibrate": False,
                    "refine_draws": None, "refine_rows_draws": None, "cond_anyway": 0,
                    "target_loss": 1.0}},
         "train.target_loss must be 0 with train.privacy"),
        ({"train": {"privacy": {"epsilon": 3}, "pac": 1, "calibrate": False,
                    "refine_draws": None, "refine_rows_draws": None, "cond_anyway": 0}},
         "train.refuse_copies must be false with train.privacy"),
        ({"train": {"target_loss": -1}}, "train.target_loss must be >= 0"),
        ({"evaluate": {"attack_rows": -1}}, "evaluate.attack_rows must be >= 0"),
    ],
)
def test_bad_params_name_the_key(raw, message):
    with pytest.raises(UserError) as err:
        params_from_dict(raw)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_or_broken_params_file(tmp_path):
    with pytest.raises(UserError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(bad)
