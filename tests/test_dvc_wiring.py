"""dvc.yaml, params.yaml, config.py and the CLI agree with each other."""

import dataclasses
import shlex
from pathlib import Path

import click
import yaml

from pipeline.cli import cli
from pipeline.config import SECTIONS, load_params

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_every_stage_is_one_synth_command_with_real_options():
    for name, stage in DVC["stages"].items():
        argv = shlex.split(stage["cmd"])
        assert argv[0] == "synth", name
        assert argv[1] == name, f"stage {name} should call `synth {name}`"
        command = cli.commands[argv[1]]
        # Parsing with click raises on unknown options or bad values.
        ctx = command.make_context(argv[1], argv[2:], resilient_parsing=False)
        assert isinstance(ctx, click.Context)


def test_stage_params_exist_in_params_yaml():
    for name, stage in DVC["stages"].items():
        for key in stage.get("params", []):
            assert key in PARAMS, f"stage {name} tracks params '{key}' missing from params.yaml"


def test_params_yaml_sections_mirror_config_dataclasses():
    load_params(ROOT / "params.yaml")  # validates types and unknown keys
    for section, cls in SECTIONS.items():
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(PARAMS[section]) == fields, f"params.yaml `{section}` vs config.{cls.__name__}"


def test_each_stage_depends_on_its_own_code():
    for name, stage in DVC["stages"].items():
        assert f"pipeline/stages/{name}.py" in stage["deps"], name
        for dep in stage["deps"]:
            assert (ROOT / dep).exists() or dep.startswith(("data/", "reports/")), dep


def test_stage_outputs_feed_the_next_stage():
    stages = DVC["stages"]

    def outs(stage):
        paths = []
        for key in ("outs", "metrics", "plots"):
            for item in stage.get(key, []):
                paths.append(item if isinstance(item, str) else next(iter(item)))
        return paths

    assert "data/prepared" in outs(stages["prepare"])
    assert "data/prepared" in stages["train"]["deps"]
    assert outs(stages["train"])[0] in stages["generate"]["deps"]
    assert outs(stages["generate"])[0] in stages["evaluate"]["deps"]
    assert "reports/metrics.json" in outs(stages["evaluate"])
    assert "reports/details.json" in outs(stages["evaluate"])
    assert "reports/metrics.json" in stages["gate"]["deps"]
