"""The `synth` command surface: help, version, module entry point, error formatting."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import __version__
from pipeline.cli import cli

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = ["prepare", "train", "generate", "evaluate", "gate", "augment", "inspect", "datasets"]


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_group_help_lists_every_stage():
    result = CliRunner().invoke(cli, ["--help"])
    for command in COMMANDS:
        assert command in result.output


def test_python_dash_m_pipeline_is_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "pipeline", "--version"],
                         capture_output=True, text=True, check=True)
    assert __version__ in out.stdout


def test_bad_params_is_one_line_exit_2(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  epochz: 3\n")
    result = CliRunner().invoke(cli, ["train", "--params", str(params)])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown params key(s): train.epochz"


def test_bad_condition_syntax_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--params", str(ROOT / "params.yaml"),
                                      "--condition", "oops"])
    assert result.exit_code == 2
    assert "COLUMN=VALUE" in result.stderr


PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def _boom(*args, **kwargs):
    raise RuntimeError("index out of range in self\nsecond line of a library message")


def test_internal_error_is_one_line_with_a_pointer_to_verbose(monkeypatch, tmp_path):
    from pipeline.stages import prepare

    monkeypatch.setattr(prepare, "run", _boom)
    result = CliRunner().invoke(cli, ["prepare", "--params", str(PARAMS),
                                      "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: internal error (RuntimeError: index out of range in self); "
        "run `synth --verbose ...` for the traceback"]
    assert "Traceback" not in result.output


def test_verbose_shows_the_internal_errors_traceback(monkeypatch, tmp_path):
    from pipeline.stages import prepare

    monkeypatch.setattr(prepare, "run", _boom)
    result = CliRunner().invoke(cli, ["--verbose", "prepare", "--params", str(PARAMS),
                                      "--out-dir", str(tmp_path / "out")])
    assert isinstance(result.exception, RuntimeError)  # raised: Python prints the traceback
    assert result.exit_code == 1


def test_help_lists_commands_in_pipeline_order_with_full_descriptions():
    out = CliRunner().invoke(cli, ["--help"]).output
    listing = out[out.index("Commands:"):out.index("Examples:")].splitlines()[1:]
    entries = [line.split(None, 1) for line in listing if line.strip()]
    assert [name for name, _ in entries] == COMMANDS  # pipeline order, helpers last
    for name, text in entries:
        assert text == cli.commands[name].short_help, name  # whole, not cut with "..."
        assert not text.endswith("...")
    examples = out[out.index("Examples:"):]
    for needle in ("dvc repro", "synth inspect", "synth generate --rows", "--out bad.csv",
                   "dvc exp run -S", "dvc exp show"):
        assert needle in examples, needle


def test_every_option_of_every_command_has_help():
    import click

    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help and len(param.help) > 10, (name, param.name)
        assert command.help and command.short_help, name


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_works_before_and_after_the_subcommand(tmp_path, where):
    params = tmp_path / "params.yaml"
    params.write_text("prepare:\n  dataset: penguins\n  target: species\n")
    args = ["prepare", "--params", str(params), "--out-dir", str(tmp_path / "out")]
    args = ["-v", *args] if where == "before" else [*args, "-v"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    # DEBUG lines only --verbose shows: every column's role and why.
    assert "synth: column bill_length_mm: numerical (numbers with fractions)" in result.stderr
    quiet = CliRunner().invoke(cli, args[1:] if where == "before" else args[:-1])
    assert "synth: column bill_length_mm" not in quiet.stderr


def test_datasets_shows_each_suggested_target():
    from pipeline.data.registry import DATASETS
    from pipeline.images.datasets import IMAGE_DATASETS

    lines = CliRunner().invoke(cli, ["datasets"]).output.splitlines()
    assert lines[0].split()[:4] == ["name", "rows", "cols", "target"]
    rows = {line.split()[0]: line.split()[3] for line in lines[1:]}
    assert rows == {**{name: d.target or "-" for name, d in DATASETS.items()},
                    **{name: "label" for name in IMAGE_DATASETS}}


def test_inspect_prints_every_role_with_its_reason_and_writes_nothing(tmp_path):
    import json

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 120
    pd.DataFrame({"row": np.arange(n), "price": rng.normal(10, 2, n).round(3),
                  "rooms": rng.integers(1, 6, n), "zip": rng.choice([10115, 20095], n),
                  "city": rng.choice(["Oslo", "Lima"], n), "day": ["2024-01-02"] * (n - 1)
                  + ["2024-03-04"], "flag": rng.random(n) < 0.5}).to_csv(
        tmp_path / "t.csv", index=False)
    params = tmp_path / "params.yaml"
    params.write_text(f"prepare:\n  dataset: {tmp_path / 't.csv'}\n  target: city\n"
                      "  columns: {zip: categorical}\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["inspect", "--params", str(params)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path / 't.csv'}: 120 rows x 7 columns, target city")
    shown = {line.split()[0]: line for line in lines[2:]}
    expect = {"row": ("id", "unique, complete, dense integers"),
              "price": ("numerical", "numbers with fractions"),
              "rooms": ("integer", "whole numbers"), "zip": ("categorical", "prepare.columns"),
              "city": ("categorical", "the target"), "day": ("datetime", "parses as dates"),
              "flag": ("boolean", "True/False")}
    assert set(shown) == set(expect)
    for column, (role, why) in expect.items():
        assert shown[column].split()[1] == role and why in shown[column], shown[column]
    # The same roles as prepare then writes.
    out = tmp_path / "prepared"
    assert CliRunner().invoke(cli, ["prepare", "--params", str(params), "--out-dir",
                                    str(out)]).exit_code == 0
    schema = json.loads((out / "schema.json").read_text())
    assert {c["name"]: c["role"] for c in schema["columns"]} == {
        c: r for c, (r, _) in expect.items()}
