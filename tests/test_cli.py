"""The `synth` command surface: help, version, module entry point, error formatting."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import __version__
from pipeline.cli import cli

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = ["prepare", "train", "generate", "evaluate", "gate", "datasets"]


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
