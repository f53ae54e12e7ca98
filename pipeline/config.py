"""Frozen dataclasses mirroring params.yaml, validated once at the boundary.

Unknown keys, wrong types and out-of-range values are a UserError naming the key.
Each stage reads only its own section(s); `dvc.yaml` lists exactly those.
"""

from __future__ import annotations

import codecs
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pipeline.errors import UserError


@dataclass(frozen=True)
class CsvParams:
    """`prepare.csv:` how a CSV source is read; null = detected from the file."""

    sep: str | None = None  # field delimiter; null: sniffed among , ; tab |
    encoding: str | None = None  # null: utf-8 (BOM stripped), else cp1252, else latin-1
    decimal: str = "."  # decimal mark of numbers ("," for many European exports)

    def check(self) -> None:
        _require(self.sep is None or len(self.sep) == 1, "prepare.csv.sep",
                 "one character or null")
        _require(len(self.decimal) == 1, "prepare.csv.decimal", "one character")
        _require(self.sep != self.decimal, "prepare.csv.decimal", "different from the separator")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise UserError(f"params key prepare.csv.encoding: unknown encoding "
                                f"'{self.encoding}'") from None


@dataclass(frozen=True)
class PrepareParams:
    """`prepare:` which table, how to split it, and per-column role overrides."""

    dataset: str = "credit"  # built-in name (see `synth datasets`) or a .csv/.parquet path
    holdout_fraction: float = 0.3
    target: str | None = None  # label column (stratified split, ML utility); params.yaml: Status
    stratify: bool = True  # stratify the split by `target` when it is set
    columns: dict[str, str] = field(default_factory=dict)  # column -> role override
    metadata: str | None = None  # SDV metadata JSON: roles from its sdtypes (docs/datasets.md)
    drop_all_null: bool = True  # drop all-null columns with a warning (False: error)
    csv: CsvParams = field(default_factory=CsvParams)  # delimiter/encoding of a CSV source

    def check(self) -> None:
        _require(0.0 < self.holdout_fraction < 1.0, "prepare.holdout_fraction", "in (0, 1)")


@dataclass(frozen=True)
class TransformParams:
    """`transform:` how prepare encodes columns for the GAN."""

    numerical: Literal["gmm", "quantile"] = "quantile"
    max_modes: int = 10  # Gaussian-mixture components per numerical column
    weight_threshold: float = 0.005  # mixture components lighter than this are dropped
    # Rows each column's mixture (and quantiles) is fitted on. The mixture fit reduces them
    # to <= 1024 sorted runs, so its cost barely depends on this; 20000 rows leave >= 100
    # rows in the lightest mode kept (weight_threshold 0.005) to estimate it from.
    fit_rows: int = 20000
    rare_category_fraction: float = 0.001  # categories rarer than this share one bucket
    max_categories: int = 500  # keep at most this many categories per column
    # quantile encoding: a column with at most this many distinct values keeps them all and
    # decodes to exactly those values, at their real rates (point masses, integer lattices).
    exact_values_max: int = 2000
    # find exact rules between numeric columns (A <= B, C = A + B, B = f(A)) and keep them
    # in generated rows (pipeline/tabular/constraints.py)
    constraints: bool = True
    # encode a numeric column that one or two others, or its trend along a key, predict with
    # R^2 >= this (least squares in raw, log or normal-score space) as its residual, on
    # tables of >= 1,000 training rows (pipeline/tabular/residuals.py, trends.py); null: off
    residual_r2: float | None = 0.75
    # with residual_r2: a numeric column that no fit or exact rule reads, left without a fit,
    # is encoded as its residual from its trend along a key where that trend alone predicts
    # it with R^2 >= this in runs of >= 25 rows (bikeshare `windspeed` along the hours:
    # 0.12); null: off
    trend_r2: float | None = 0.1
    # with constraints: draw a categorical column that runs of rows along a fitted trend's key
    # predict from its run's counts (pipeline/tabular/series.py); off by default: it moved
    # bikeshare's DCR share up by about 0.005 for -0.016 detection
    series: bool = False

    def check(self) -> None:
        _require(self.max_modes >= 1, "transform.max_modes", ">= 1")
        _require(self.fit_rows >= 100, "transform.fit_rows", ">= 100")
        _require(0.0 <= self.rare_category_fraction < 1.0, "transform.rare_category_fraction",
                 "in [0, 1)")
        _require(self.max_categories >= 2, "transform.max_categories", ">= 2")
        _require(self.exact_values_max >= 1, "transform.exact_values_max", ">= 1")
        _require(self.residual_r2 is None or 0.0 < self.residual_r2 <= 1.0,
                 "transform.residual_r2", "in (0, 1] or null")
        _require(self.trend_r2 is None or 0.0 < self.trend_r2 <= 1.0,
                 "transform.trend_r2", "in (0, 1] or null")


@dataclass(frozen=True)
class PrivacyParams:
    """`train.privacy:` differentially private training (DP-SGD on the critic; docs/privacy.md).

    Off while both `epsilon` and `noise_multiplier` are null.
    """

    epsilon: float | None = None  # target epsilon for the whole training run
    noise_multiplier: float | None = None  # instead of epsilon: the DP-SGD noise (epsilon follows)
    delta: float | None = None  # null: min(1e-5, 1/training rows)
    max_grad_norm: float = 1.0  # per-row gradient clipping bound
    stats_share: float = 0.1  # share of the budget spent on the sampler's category counts
    accountant: Literal["rdp", "prv"] = "rdp"  # Opacus accountant

    @property
    def enabled(self) -> bool:
        return self.epsilon is not None or self.noise_multiplier is not None

    def check(self) -> None:
        _require(self.epsilon is None or self.noise_multiplier is None, "train.privacy",
                 "given epsilon or noise_multiplier, not both")
        _require(self.epsilon is None or self.epsilon > 0, "train.privacy.epsilon", "> 0")
        _require(self.noise_multiplier is None or self.noise_multiplier > 0,
                 "train.privacy.noise_multiplier", "> 0")
        _require(self.delta is None or 0 < self.delta < 1, "train.privacy.delta", "in (0, 1)")
        _require(self.max_grad_norm > 0, "train.privacy.max_grad_norm", "> 0")
        _require(0 <= self.stats_share < 1, "train.privacy.stats_share", "in [0, 1)")


@dataclass(frozen=True)
class TrainParams:
    """`train:` the model, its hyperparameters and the Lightning Trainer settings."""

    model: str = "ctgan"
    # Training length: `steps` generator updates (each with critic_steps critic updates),
    # whatever the table's size; `epochs` (passes over the data) replaces it when set.
    steps: int = 6000
    epochs: int | None = None
    max_minutes: float | None = 10.0  # wall-clock cap on training (null: none)
    ema_decay: float = 0.999  # sampling uses an exponential moving average of G (0: off)
    cond_anyway: float = 0.5  # share of condition vectors over a random set of discrete columns
    # weight of the auxiliary classifier's loss on a categorical target (0: off)
    target_loss: float = 0.0
    # torch threads when training on CPU (null: torch's default). The default nets are too
    # small for threads to pay; on a busy machine spinning OpenMP threads slowed steps 5-50x.
    cpu_threads: int | None = 1
    batch_size: int = 500
    embedding_dim: int = 128
    generator_dims: list[int] = field(default_factory=lambda: [256, 256])
    discriminator_dims: list[int] = field(default_factory=lambda: [256, 256])
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.9])
    generator_decay: float = 1e-6
    discriminator_decay: float = 1e-6
    pac: int = 10
    critic_steps: int = 1
    gp_weight: float = 10.0
    log_frequency: bool = True
    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    compile: bool = False
    resume: bool = False  # continue from the last checkpoint in the model dir
    # Resumable checkpoint (checkpoints/last.ckpt, atomic) every this many rounds (0: only at
    # the end) and/or after this many minutes since the last one (null: no time trigger).
    checkpoint_every: int = 10
    checkpoint_minutes: float | None = None
    # after training, fit the generator's marginal calibration (pipeline/models/calibration.py)
    calibrate: bool = True
    # after calibration, keep generated rows by a real-vs-generated classifier's density ratio
    # (pipeline/models/refine.py), drawing at most this many rows per kept row (null: off)
    refine_draws: float | None = 8.0
    # then keep decoded rows by a second such classifier over the rows as a user sees them
    # (pipeline/models/row_refine.py), at most this many decoded draws per kept row (null: off)
    refine_rows_draws: float | None = 8.0
    # generation redraws rows equal to a training row no other row shares (the checkpoint keeps
    # those rows' 64-bit keys, pipeline/models/copy_guard.py)
    refuse_copies: bool = True
    privacy: PrivacyParams = field(default_factory=PrivacyParams)  # off by default

    def check(self) -> None:
        if self.privacy.enabled:  # DP-SGD clips per row; these read rows outside it
            _require(self.pac == 1, "train.pac", "1 with train.privacy (PacGAN mixes rows)")
            _require(not self.calibrate, "train.calibrate",
                     "false with train.privacy (calibration reads the real rows)")
            _require(self.refine_draws is None, "train.refine_draws",
                     "null with train.privacy (the refiner is trained on the real rows)")
            _require(self.refine_rows_draws is None, "train.refine_rows_draws",
                     "null with train.privacy (the refiner is trained on the real rows)")
            _require(self.cond_anyway == 0, "train.cond_anyway",
                     "0 with train.privacy (any-way conditions copy real rows' categories)")
            _require(self.target_loss == 0, "train.target_loss",
                     "0 with train.privacy (the target classifier is trained on the real rows)")
            _require(not self.refuse_copies, "train.refuse_copies",
                     "false with train.privacy (the copy guard keeps keys of the real rows)")
        _require(self.steps >= 1, "train.steps", ">= 1")
        _require(self.epochs is None or self.epochs >= 1, "train.epochs", ">= 1 or null")
        _require(self.max_minutes is None or self.max_minutes > 0, "train.max_minutes",
                 "> 0 or null")
        _require(0.0 <= self.ema_decay < 1.0, "train.ema_decay", "in [0, 1)")
        _require(self.refine_draws is None or self.refine_draws > 1, "train.refine_draws",
                 "> 1 or null")
        _require(self.refine_rows_draws is None or self.refine_rows_draws > 1,
                 "train.refine_rows_draws", "> 1 or null")
        _require(0.0 <= self.cond_anyway <= 1.0, "train.cond_anyway", "in [0, 1]")
        _require(self.target_loss >= 0, "train.target_loss", ">= 0")
        _require(self.cpu_threads is None or self.cpu_threads >= 1, "train.cpu_threads",
                 ">= 1 or null")
        _require(self.checkpoint_every >= 0, "train.checkpoint_every", ">= 0")
        _require(self.checkpoint_minutes is None or self.checkpoint_minutes > 0,
                 "train.checkpoint_minutes", "> 0 or null")
        _require(self.batch_size >= 1, "train.batch_size", ">= 1")
        _require(self.pac >= 1 and self.batch_size % self.pac == 0, "train.batch_size",
                 f"a multiple of train.pac ({self.pac})")
        _require(self.critic_steps >= 1, "train.critic_steps", ">= 1")
        _require(len(self.betas) == 2, "train.betas", "a list of two floats")
        _require(all(d > 0 for d in self.generator_dims + self.discriminator_dims),
                 "train.generator_dims/discriminator_dims", "positive")
        # fp16 mixed precision is refused: autograd.grad in the gradient penalty bypasses
        # the loss scaler.
        _require(self.precision in ("32-true", "32", "bf16-mixed", "bf16-true", "64-true"),
                 "train.precision", "one of 32-true, bf16-mixed, bf16-true, 64-true")


@dataclass(frozen=True)
class GenerateParams:
    """`generate:` how many rows, in what chunks, under which conditions."""

    rows: int | None = None  # None: as many rows as the real training table
    chunk_rows: int = 50000
    conditions: dict[str, Any] = field(default_factory=dict)  # column -> value

    def check(self) -> None:
        _require(self.rows is None or self.rows >= 1, "generate.rows", ">= 1 or null")
        _require(self.chunk_rows >= 1, "generate.chunk_rows", ">= 1")


@dataclass(frozen=True)
class EvaluateParams:
    """`evaluate:` scoring options."""

    detection_folds: int = 3
    # Seeded cap on rows per table for fidelity, diagnostic, detection and utility (not privacy).
    max_rows: int | None = 50_000
    # Privacy: query rows per side (reference tables are always complete); null = all rows.
    privacy_query_rows: int | None = 10_000
    distance_chunk_rows: int = 2048
    sdmetrics_dcr_rows: int = 0  # >0: also run sdmetrics' DCR metrics on this many rows (slow)
    # attack-based risks (metrics/attacks.py, metrics/membership.py): attacks / targets per
    # side; 0 turns them off
    attack_rows: int = 1000

    def check(self) -> None:
        _require(self.detection_folds >= 2, "evaluate.detection_folds", ">= 2")
        _require(self.distance_chunk_rows >= 1, "evaluate.distance_chunk_rows", ">= 1")
        _require(self.sdmetrics_dcr_rows >= 0, "evaluate.sdmetrics_dcr_rows", ">= 0")
        _require(self.attack_rows >= 0, "evaluate.attack_rows", ">= 0")
        _require(self.max_rows is None or self.max_rows >= 10, "evaluate.max_rows", ">= 10")
        _require(self.privacy_query_rows is None or self.privacy_query_rows >= 10,
                 "evaluate.privacy_query_rows", ">= 10")


@dataclass(frozen=True)
class AugmentParams:
    """`augment:` real + synthetic training set (`pipeline/augment.py`, docs/augmentation.md)."""

    mode: str = "rebalance"  # rebalance | fill | multiply
    target: str | None = None  # null: prepare.target (the schema's)
    share: float = 1.0  # rebalance: every class up to share x the largest class
    factor: float = 2.0  # multiply: factor x the real rows in all
    groups: list[dict[str, Any]] = field(default_factory=list)  # fill: [{conditions, rows}]
    flag_column: str | None = None  # a boolean column marking synthetic rows (null: none)
    lift_seeds: int = 3  # augmented draws scored for the lift metric (0: no lift metric)

    def check(self) -> None:
        _require(self.mode in ("rebalance", "fill", "multiply"), "augment.mode",
                 "one of rebalance, fill, multiply")
        _require(0.0 < self.share <= 1.0, "augment.share", "in (0, 1]")
        _require(self.factor >= 1.0, "augment.factor", ">= 1")
        _require(self.lift_seeds >= 0, "augment.lift_seeds", ">= 0")


@dataclass(frozen=True)
class GateParams:
    """`gate:` metric key -> threshold; direction comes from the metric registry."""

    thresholds: dict[str, float] = field(default_factory=dict)


SECTIONS: dict[str, type] = {
    "prepare": PrepareParams,
    "transform": TransformParams,
    "train": TrainParams,
    "generate": GenerateParams,
    "augment": AugmentParams,
    "evaluate": EvaluateParams,
    "gate": GateParams,
}


@dataclass(frozen=True)
class Params:
    """The whole params.yaml: shared `seed` plus one section per stage."""

    seed: int = 42
    prepare: PrepareParams = field(default_factory=PrepareParams)
    transform: TransformParams = field(default_factory=TransformParams)
    train: TrainParams = field(default_factory=TrainParams)
    generate: GenerateParams = field(default_factory=GenerateParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    gate: GateParams = field(default_factory=GateParams)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Load and validate params.yaml. Missing sections take defaults; unknown keys are errors."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path} must be a mapping of sections")
    return params_from_dict(raw)


def params_from_dict(raw: dict[str, Any]) -> Params:
    """Build Params from a plain dict (e.g. params.yaml contents), validating everything."""
    unknown = set(raw) - {"seed", *SECTIONS}
    if unknown:
        raise UserError(f"unknown params section(s): {', '.join(sorted(unknown))}")
    seed = _check_type("seed", raw.get("seed", 42), int)
    sections = {name: section_from_dict(cls, raw.get(name) or {}, name)
                for name, cls in SECTIONS.items()}
    return Params(seed=seed, **sections)


def section_from_dict(cls: type, raw: Any, prefix: str) -> Any:
    """Build one frozen section dataclass from a dict, naming any bad key in the error."""
    if not isinstance(raw, dict):
        raise UserError(f"params section '{prefix}' must be a mapping, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(fields)
    if unknown:
        raise UserError(f"unknown params key(s): {', '.join(f'{prefix}.{k}' for k in sorted(unknown))}")
    hints = typing.get_type_hints(cls)
    values = {k: section_from_dict(hints[k], v or {}, f"{prefix}.{k}")
              if dataclasses.is_dataclass(hints[k]) else _check_type(f"{prefix}.{k}", v, hints[k])
              for k, v in raw.items()}
    obj = cls(**values)
    if hasattr(obj, "check"):
        obj.check()
    return obj


def _check_type(key: str, value: Any, hint: Any) -> Any:
    """Return value (ints widened to float where a float is expected) or raise naming the key."""
    ok, converted = _conform(value, hint)
    if not ok:
        raise UserError(f"params key {key}: expected {_hint_name(hint)}, got {value!r}")
    return converted


def _conform(value: Any, hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            ok, conv = _conform(value, arg)
            if ok:
                return True, conv
        return False, value
    if origin is Literal:
        return value in args, value
    if hint is type(None):
        return value is None, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if hint is str:
        return isinstance(value, str), value
    if origin is list:
        if not isinstance(value, list):
            return False, value
        out = [_conform(v, args[0]) for v in value]
        return all(ok for ok, _ in out), [v for _, v in out]
    if origin is dict:
        if not isinstance(value, dict):
            return False, value
        out = {k: _conform(v, args[1]) for k, v in value.items()}
        keys_ok = all(_conform(k, args[0])[0] for k in value)
        return keys_ok and all(ok for ok, _ in out.values()), {k: v for k, (_, v) in out.items()}
    return isinstance(value, hint), value


def _hint_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _require(ok: bool, key: str, what: str) -> None:
    if not ok:
        raise UserError(f"params key {key} must be {what}")
