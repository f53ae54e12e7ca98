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
