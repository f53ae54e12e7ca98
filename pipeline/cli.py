"""The `synth` command: one thin subcommand per DVC stage, plus helpers.

Commands parse options, load their params section(s) and call `pipeline.stages.<verb>.run`.
Heavy imports (torch, Lightning, sdmetrics) happen inside commands so `synth --help` is fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline import __version__, log
from pipeline.errors import GateFailed, UserError

PARAMS_OPTION = click.option(
    "--params", "params_path", type=click.Path(path_type=Path), default="params.yaml",
    show_default=True, help="params.yaml to read.")


INTERNAL_ERROR_EXIT = 1


class SynthGroup(click.Group):
    """Turns errors into one line on stderr and a non-zero exit code, no traceback: user errors
    exit 2, a failed gate 3, anything else (a bug) 1 with a pointer to `--verbose`, which
    prints the traceback instead."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            ctx.exit(exc.exit_code)
        except GateFailed as exc:
            click.echo(f"gate failed: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if ctx.params.get("verbose"):
                raise
            click.echo(f"error: internal error ({type(exc).__name__}: {_one_line(exc)}); "
                       "run `synth --verbose ...` for the traceback", err=True)
            ctx.exit(INTERNAL_ERROR_EXIT)


@click.group(cls=SynthGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="synth")
@click.option("-v", "--verbose", is_flag=True,
              help="More progress detail, and the traceback of an internal error.")
def cli(verbose: bool) -> None:
    """synth-pipeline: turn a real table into a synthetic one that is faithful, useful
    and private, and prove it.

    Stages (wired in dvc.yaml, run them all with `dvc repro`):
    prepare -> train -> generate -> evaluate -> gate.
    """
    log.setup(verbose)


def _load(params_path: Path):
    from pipeline.config import load_params

    return load_params(params_path)


@cli.command()
def datasets() -> None:
    """List the built-in datasets (usable as prepare.dataset)."""
    from pipeline.data.registry import DATASETS

    rows = [("name", "rows", "cols", "source", "licence")]
    rows += [(d.name, str(d.rows), str(d.columns), d.source, d.licence) for d in DATASETS.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


@cli.command()
@PARAMS_OPTION
@click.option("--out-dir", type=click.Path(path_type=Path), default="data/prepared",
              show_default=True, help="Where train/holdout Parquet, schema and transformer go.")
def prepare(params_path: Path, out_dir: Path) -> None:
    """Load, validate, profile and split the real table; fit the transformer."""
    params = _load(params_path)
    from pipeline.stages import prepare as stage

    stage.run(params, out_dir)


@cli.command()
@PARAMS_OPTION
@click.option("--data-dir", type=click.Path(path_type=Path), default="data/prepared",
              show_default=True, help="Output of `synth prepare`.")
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              default="data/models/model.ckpt", show_default=True, help="Checkpoint to write.")
@click.option("--log-dir", type=click.Path(path_type=Path), default="reports/train",
              show_default=True, help="DVCLive metrics and plots of the training run.")
def train(params_path: Path, data_dir: Path, model_path: Path, log_dir: Path) -> None:
    """Train the GAN on the prepared training table."""
    params = _load(params_path)
    from pipeline.stages import train as stage

    stage.run(params, data_dir, model_path, log_dir)


@cli.command()
@PARAMS_OPTION
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              default="data/models/model.ckpt", show_default=True, help="Trained checkpoint.")
@click.option("--out", "out_path", type=click.Path(path_type=Path),
              default="data/synthetic/synthetic.parquet", show_default=True,
              help="Parquet file to write.")
@click.option("--rows", type=click.IntRange(min=1), default=None,
              help="Rows to generate [default: generate.rows, else the training rows].")
@click.option("--condition", "conditions", multiple=True, metavar="COLUMN=VALUE",
              help="Only generate rows with this value, or numeric range: COLUMN>=X, COLUMN<X, "
                   "COLUMN=A..B (repeatable, all hold at once; overrides generate.conditions).")
@click.option("--seed", type=int, default=None, help="Sampling seed [default: params seed].")
def generate(params_path: Path, model_path: Path, out_path: Path, rows: int | None,
             conditions: tuple[str, ...], seed: int | None) -> None:
    """Generate synthetic rows from a trained checkpoint, streamed in chunks."""
    from pipeline.tabular.conditions import parse_cli

    params, parsed = _load(params_path), parse_cli(conditions)
    from pipeline.stages import generate as stage

    stage.run(params, model_path, out_path, rows=rows, conditions=parsed, seed=seed)


@cli.command()
@PARAMS_OPTION
@click.option("--data-dir", type=click.Path(path_type=Path), default="data/prepared",
              show_default=True, help="Output of `synth prepare` (its train split is augmented).")
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              default="data/models/model.ckpt", show_default=True, help="Trained checkpoint.")
@click.option("--out", "out_path", type=click.Path(path_type=Path),
              default="data/augmented/train.parquet", show_default=True,
              help="Parquet file to write: real training rows + synthetic rows.")
@click.option("--metrics", "metrics_path", type=click.Path(path_type=Path),
              default="reports/augment/metrics.json", show_default=True,
              help="Augmentation lift on the real holdout (augment.lift_seeds draws).")
def augment(params_path: Path, data_dir: Path, model_path: Path, out_path: Path,
            metrics_path: Path) -> None:
    """Augment the training split (augment.mode: rebalance, fill or multiply)."""
    params = _load(params_path)
    from pipeline.stages import augment as stage

    stage.run(params, data_dir, model_path, out_path, metrics_path)


@cli.command()
@PARAMS_OPTION
@click.option("--data-dir", type=click.Path(path_type=Path), default="data/prepared",
              show_default=True, help="Output of `synth prepare` (train, holdout, schema).")
@click.option("--synthetic", "synthetic_path", type=click.Path(path_type=Path),
              default="data/synthetic/synthetic.parquet", show_default=True)
@click.option("--train-log", "train_log_dir", type=click.Path(path_type=Path),
              default="reports/train", show_default=True,
              help="Training curves to include in the report (optional).")
@click.option("--out-dir", type=click.Path(path_type=Path), default="reports",
              show_default=True, help="metrics.json, details.json, plots/ and report.html go here.")
def evaluate(params_path: Path, data_dir: Path, synthetic_path: Path, train_log_dir: Path,
             out_dir: Path) -> None:
    """Score fidelity, detection, utility and privacy; write metrics, plots and a report."""
    params = _load(params_path)
    from pipeline.stages import evaluate as stage

    stage.run(params, data_dir, synthetic_path, train_log_dir, out_dir)


@cli.command()
@PARAMS_OPTION
@click.option("--metrics", "metrics_path", type=click.Path(path_type=Path),
              default="reports/metrics.json", show_default=True)
@click.option("--out", "out_path", type=click.Path(path_type=Path), default="reports/gate.json",
              show_default=True)
def gate(params_path: Path, metrics_path: Path, out_path: Path) -> None:
    """Compare metrics with gate.thresholds; exit 3 if any fails."""
    params = _load(params_path)
    from pipeline.stages import gate as stage

    stage.run(params, metrics_path, out_path)


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message (messages from libraries can span lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="synth")


if __name__ == "__main__":
    sys.exit(main())
