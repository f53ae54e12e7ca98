"""The `synth` command: one thin subcommand per DVC stage, plus helpers.

Commands parse options, load their params section(s) and call `pipeline.stages.<verb>.run`.
Heavy imports (torch, Lightning, sdmetrics) happen inside commands so `synth --help` is fast.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from pipeline import __version__, log
from pipeline.errors import GateFailed, UserError

PARAMS_OPTION = click.option(
    "--params", "params_path", type=click.Path(path_type=Path), default="params.yaml",
    show_default=True, help="params.yaml to read.")


INTERNAL_ERROR_EXIT = 1
ORDER = ("prepare", "train", "generate", "evaluate", "gate", "augment", "inspect", "datasets")
EXAMPLES = """Examples:

\b
  dvc repro                     run every stage, as CI does
  synth inspect                 each column's role and why, before a long run
  synth prepare && synth train  one stage at a time (defaults: dvc.yaml's paths)
  synth generate --rows 1000000 --condition Status=bad --out bad.csv
  synth evaluate -v             more detail, tracebacks of internal errors
  dvc exp run -S train.steps=10000   an experiment; compare: dvc exp show
"""


def _verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """`-v` after a subcommand means the same as before it."""
    if value:
        ctx.find_root().params["verbose"] = True
        log.setup(True)


def _verbose_option() -> click.Option:
    return click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, is_eager=True,
                        callback=_verbose, help="Same as `synth -v`: more progress detail, "
                        "and the traceback of an internal error.")


class SynthGroup(click.Group):
    """Turns errors into one line on stderr and a non-zero exit code, no traceback: user errors
    exit 2, a failed gate 3, anything else (a bug) 1 with a pointer to `--verbose`, which
    prints the traceback instead."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Pipeline order, then the helpers (click would sort them alphabetically)."""
        return [n for n in ORDER if n in self.commands] + sorted(set(self.commands) - set(ORDER))

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


@click.group(cls=SynthGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXAMPLES)
@click.version_option(__version__, "-V", "--version", prog_name="synth")
@click.option("-v", "--verbose", is_flag=True,
              help="More progress detail, and the traceback of an internal error.")
def cli(verbose: bool) -> None:
    """synth-pipeline: turn a real table into a synthetic one that is faithful, useful
    and private, and prove it.

    Stages (wired in dvc.yaml, run them all with `dvc repro`):
    prepare -> train -> generate -> evaluate -> gate. Every command reads params.yaml
    (--params) and takes -v/--verbose before or after its name.
    Images too: a built-in image set or a folder as prepare.dataset (docs/images.md).
    """
    log.setup(verbose)


def _load(params_path: Path):
    from pipeline.config import load_params

    return load_params(params_path)


@cli.command(short_help="List the built-in datasets and each one's suggested target.")
def datasets() -> None:
    """List the built-in datasets: use a name as prepare.dataset and its target as
    prepare.target."""
    from pipeline.data.registry import DATASETS

    from pipeline.images.datasets import IMAGE_DATASETS

    rows = [("name", "rows", "cols", "target", "source", "licence")]
    rows += [(d.name, str(d.rows), str(d.columns), d.target or "-", d.source, d.licence)
             for d in DATASETS.values()]
    rows += [(name, str(n), size, "label", source, licence)  # image sets: cols = image size
             for name, (_, n, size, source, licence) in IMAGE_DATASETS.items()]
    _echo_table(rows)


@cli.command(short_help="Show each column's role (as prepare would infer it) and why.")
@PARAMS_OPTION
def inspect(params_path: Path) -> None:
    """Load and validate prepare.dataset as `synth prepare` would and print every column's
    role with the reason (inferred, prepare.metadata or a prepare.columns override). Writes
    nothing; fix prepare.columns before a long run."""
    params = _load(params_path)
    from pipeline.data.inspect import inspect_table

    heading, rows = inspect_table(params.prepare)
    click.echo(heading)
    _echo_table([("column", "role", "missing", "distinct", "why")] + rows)


def _echo_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


@cli.command(short_help="Load, validate and split the real table; fit the transformer.")
@PARAMS_OPTION
@click.option("--out-dir", type=click.Path(path_type=Path), default="data/prepared",
              show_default=True, help="Where train/holdout Parquet, schema and transformer go.")
def prepare(params_path: Path, out_dir: Path) -> None:
    """Load prepare.dataset, validate it, give every column a role (`synth inspect` shows
    them), split train/holdout (seeded) and fit the reversible transformer."""
    params = _load(params_path)
    from pipeline.families import for_dataset

    for_dataset(params.prepare.dataset).verb("prepare")(params, out_dir)


@cli.command(short_help="Train the GAN for train.steps (progress bar with time left).")
@PARAMS_OPTION
@click.option("--data-dir", type=click.Path(path_type=Path), default="data/prepared",
              show_default=True, help="Output of `synth prepare`.")
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              default="data/models/model.ckpt", show_default=True, help="Checkpoint to write.")
@click.option("--log-dir", type=click.Path(path_type=Path), default="reports/train",
              show_default=True, help="DVCLive metrics and plots of the training run.")
def train(params_path: Path, data_dir: Path, model_path: Path, log_dir: Path) -> None:
    """Train the conditional GAN on the prepared training table for train.steps generator
    steps (capped by train.max_minutes); write a self-contained checkpoint and DVCLive curves.
    A terminal gets a progress bar with the time left, logs and CI one line per tenth."""
    params = _load(params_path)
    from pipeline.families import check_prepared, for_model

    family = for_model(params.train.model)
    check_prepared(data_dir, family, params.train.model)
    family.verb("train")(params, data_dir, model_path, log_dir)


@cli.command(short_help="Sample synthetic rows from a checkpoint into Parquet or CSV.")
@PARAMS_OPTION
@click.option("--model", "model_path", type=click.Path(path_type=Path),
              default="data/models/model.ckpt", show_default=True, help="Trained checkpoint.")
@click.option("--out", "out_path", type=click.Path(path_type=Path),
              default="data/synthetic/synthetic.parquet", show_default=True,
              help="File to write: .parquet, or .csv for CSV.")
@click.option("--rows", type=click.IntRange(min=1), default=None,
              help="Rows to generate [default: generate.rows, else the training rows].")
@click.option("--condition", "conditions", multiple=True, metavar="COLUMN=VALUE",
              help="Only generate rows with this value, or numeric range: COLUMN>=X, COLUMN<X, "
                   "COLUMN=A..B (repeatable, all hold at once; overrides generate.conditions).")
@click.option("--seed", type=int, default=None, help="Sampling seed [default: params seed].")
@click.option("--interpolate", metavar="SEED_A:SEED_B", default=None,
              help="Instead: samples along the latent path between two seeds' first latent "
                   "points (tables: Parquet rows; images: --out is a folder, a grid PNG).")
@click.option("--interpolate-steps", type=click.IntRange(min=2), default=8, show_default=True,
              help="Points on the --interpolate path, endpoints included.")
def generate(params_path: Path, model_path: Path, out_path: Path, rows: int | None,
             conditions: tuple[str, ...], seed: int | None, interpolate: str | None,
             interpolate_steps: int) -> None:
    """Generate synthetic rows (or images) from a trained checkpoint, streamed in chunks of
    generate.chunk_rows (progress per chunk), optionally only rows matching conditions."""
    from pipeline.tabular.conditions import parse_cli

    params, parsed = _load(params_path), parse_cli(conditions)
    from pipeline.families import for_checkpoint

    family = for_checkpoint(model_path)
    if interpolate is not None:
        family.verb("interpolate")(params, model_path, out_path, _parse_seeds(interpolate),
                                   interpolate_steps, conditions=parsed)
        return
    family.verb("generate")(params, model_path, out_path, rows=rows, conditions=parsed,
                            seed=seed)


@cli.command(short_help="Real training rows plus conditioned synthetic rows; lift on holdout.")
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
    """Augment the training split with synthetic rows drawn under native conditions
    (augment.mode: rebalance, fill or multiply) and score the lift of a downstream model on
    the real holdout."""
    params = _load(params_path)
    from pipeline.stages import augment as stage

    stage.run(params, data_dir, model_path, out_path, metrics_path)


@cli.command(short_help="Score fidelity, detection, utility, privacy; write the report.")
@PARAMS_OPTION
@click.option("--data-dir", type=click.Path(path_type=Path), default="data/prepared",
              show_default=True, help="Output of `synth prepare` (train, holdout, schema).")
@click.option("--synthetic", "synthetic_path", type=click.Path(path_type=Path),
              default="data/synthetic/synthetic.parquet", show_default=True,
              help="Synthetic table to score (.parquet or .csv).")
@click.option("--train-log", "train_log_dir", type=click.Path(path_type=Path),
              default="reports/train", show_default=True,
              help="Training curves to include in the report (optional).")
@click.option("--out-dir", type=click.Path(path_type=Path), default="reports",
              show_default=True, help="metrics.json, details.json, plots/ and report.html go here.")
def evaluate(params_path: Path, data_dir: Path, synthetic_path: Path, train_log_dir: Path,
             out_dir: Path) -> None:
    """Score the synthetic rows against the real train and holdout splits (fidelity,
    detection, utility, privacy); write metrics.json, details.json, plot data and
    report.html, whose first screen shows the gate's verdict."""
    params = _load(params_path)
    from pipeline.families import for_prepared

    for_prepared(data_dir).verb("evaluate")(params, data_dir, synthetic_path, train_log_dir,
                                            out_dir)


@cli.command(short_help="Check metrics against gate.thresholds; exit 3 when any fails.")
@PARAMS_OPTION
@click.option("--metrics", "metrics_path", type=click.Path(path_type=Path),
              default="reports/metrics.json", show_default=True,
              help="Metrics written by `synth evaluate`.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default="reports/gate.json",
              show_default=True, help="Where the pass/fail of each check goes.")
def gate(params_path: Path, metrics_path: Path, out_path: Path) -> None:
    """Compare every metric named in gate.thresholds with its threshold (direction from the
    metric registry), print a table and write gate.json; exit 3 when any check fails."""
    params = _load(params_path)
    from pipeline.stages import gate as stage

    stage.run(params, metrics_path, out_path)


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message (messages from libraries can span lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _parse_seeds(text: str) -> tuple[int, int]:
    """`A:B` -> (A, B) for --interpolate."""
    match = re.fullmatch(r"\s*(-?\d+)\s*:\s*(-?\d+)\s*", text)
    if match:
        return int(match[1]), int(match[2])
    raise UserError(f"--interpolate must look like SEED_A:SEED_B (two integers), got '{text}'")


for _command in cli.commands.values():  # -v/--verbose after any subcommand too
    _command.params.append(_verbose_option())


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="synth")


if __name__ == "__main__":
    sys.exit(main())
