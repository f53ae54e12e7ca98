"""`synth prepare -> train -> generate` on a tiny table: real Lightning training, checkpoints,
DVCLive files, exact conditions, reproducibility, resume and one-line CLI errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.models.checkpoint import read_checkpoint

TINY_TRAIN = {"epochs": 2, "batch_size": 40, "pac": 4, "embedding_dim": 8,
              "generator_dims": [16, 16], "discriminator_dims": [16, 16], "accelerator": "cpu"}


def make_project(root: Path, n: int = 240, **train) -> Path:
    """A CSV, a params.yaml with a tiny model, and `synth prepare` run into root/prepared."""
    rng = np.random.default_rng(0)
    pd.DataFrame({
        "age": rng.integers(18, 80, n),
        "income": rng.lognormal(10, 1, n).round(2),
        "grade": rng.choice(list("abcde"), n, p=[0.4, 0.3, 0.2, 0.05, 0.05]),
        "city": rng.choice(["Oslo", "Lima", "Pune"], n),
        "member": rng.random(n) < 0.3,
    }).to_csv(root / "table.csv", index=False)
    params = {"seed": 7, "prepare": {"dataset": str(root / "table.csv"), "target": None},
              "transform": {"fit_rows": 200}, "train": {**TINY_TRAIN, **train}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    invoke(root, "prepare", "--out-dir", root / "prepared")
    return root


def invoke(root: Path, *args, code: int = 0):
    result = CliRunner().invoke(cli, [str(a) for a in (args[0], "--params", root / "params.yaml",
                                                       *args[1:])])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def train(root: Path, model: str = "model.ckpt", log: str = "train_log"):
    return invoke(root, "train", "--data-dir", root / "prepared", "--model", root / model,
                  "--log-dir", root / log)


def set_train(root: Path, **changes) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"].update(changes)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("gan"))
    train(root)
    return root


def test_train_writes_a_self_contained_checkpoint_and_curves(project: Path) -> None:
    ckpt = read_checkpoint(project / "model.ckpt")
    assert ckpt["synth"]["schema_version"] == 5 and ckpt["synth"]["model"] == "ctgan"
    assert {c["name"] for c in ckpt["synth"]["schema"]["columns"]} >= {"grade", "city"}
    assert "data" not in ckpt["state_dict"]  # the training matrix never goes in
    assert ckpt["epoch"] == 2 and len(ckpt["optimizer_states"]) == 2
    metrics = yaml.safe_load((project / "train_log" / "metrics.json").read_text())
    for key in ("loss_g", "loss_d", "gradient_penalty", "critic_real", "critic_fake"):
        assert np.isfinite(metrics[key])
        assert (project / "train_log" / "plots" / "metrics" / f"{key}.tsv").is_file()
    assert (project / "checkpoints" / "last.ckpt").is_file()


def test_generate_streams_rows_with_schema_dtypes(project: Path) -> None:
    invoke(project, "generate", "--model", project / "model.ckpt", "--out",
           project / "out.parquet", "--rows", 250)
    out = pd.read_parquet(project / "out.parquet")
    real = pd.read_parquet(project / "prepared" / "train.parquet")
    assert len(out) == 250 and list(out.columns) == list(real.columns)
    assert set(out["grade"]) <= set(real["grade"]) and out["member"].dtype == bool


def test_generate_writes_csv_when_asked_and_refuses_other_suffixes(project: Path) -> None:
    """`--out x.csv` is a CSV with the same rows as the Parquet of the same seed; chunks
    report progress; an unknown suffix is a one-line error and nothing is written."""
    result = invoke(project, "generate", "--model", project / "model.ckpt", "--out",
                    project / "out.csv", "--rows", 250, "--seed", 3)
    invoke(project, "generate", "--model", project / "model.ckpt", "--out",
           project / "same.parquet", "--rows", 250, "--seed", 3)
    assert (project / "out.csv").read_bytes()[:4] != b"PAR1"
    csv = pd.read_csv(project / "out.csv")
    same = pd.read_parquet(project / "same.parquet")
    assert list(csv.columns) == list(same.columns) and len(csv) == 250
    pd.testing.assert_frame_equal(csv, same, check_dtype=False)
    assert "-> " in result.stderr and "out.csv" in result.stderr
    chunked = invoke(project, "generate", "--model", project / "model.ckpt", "--out",
                     project / "chunks.parquet", "--rows", 250)
    assert "generated 250 rows" in chunked.stderr and "rows (" not in chunked.stderr  # 1 chunk
    params = yaml.safe_load((project / "params.yaml").read_text())
    params.setdefault("generate", {})["chunk_rows"] = 100
    (project / "chunked.yaml").write_text(yaml.safe_dump(params))
    result = CliRunner().invoke(cli, ["generate", "--params", str(project / "chunked.yaml"),
                                      "--model", str(project / "model.ckpt"), "--out",
                                      str(project / "chunks.parquet"), "--rows", "250"])
    assert result.exit_code == 0, result.output
    assert "generate: 100/250 rows (40%), about" in result.stderr
    assert "generate: 200/250 rows (80%)" in result.stderr
    bad = invoke(project, "generate", "--model", project / "model.ckpt", "--out",
                 project / "out.xlsx", code=2)
    assert bad.stderr.strip() == (f"error: --out {project / 'out.xlsx'}: write .parquet or "
                                  ".csv (got '.xlsx')")
    assert not (project / "out.xlsx").exists()


def test_conditions_hold_in_every_row(project: Path) -> None:
    invoke(project, "generate", "--model", project / "model.ckpt", "--out",
           project / "cond.parquet", "--rows", 300, "--condition", "grade=e",
           "--condition", "member=true", "--condition", "city=Lima")
    out = pd.read_parquet(project / "cond.parquet")
    assert len(out) == 300
    assert (out["grade"] == "e").all() and out["member"].all() and (out["city"] == "Lima").all()


def test_same_seed_gives_byte_identical_parquet(project: Path) -> None:
    paths = [project / f"s{i}.parquet" for i in range(3)]
    for path, seed in zip(paths, (5, 5, 6)):
        invoke(project, "generate", "--model", project / "model.ckpt", "--out", path,
               "--rows", 120, "--seed", seed)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_same_seed_training_is_reproducible(project: Path) -> None:
    train(project, "again.ckpt", "log_again")
    a = read_checkpoint(project / "model.ckpt")["state_dict"]
    b = read_checkpoint(project / "again.ckpt")["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("condition, message", [
    ("income=5..1", "the range is empty"),
    ("income>=1e12", "never saw such a value"),
    ("nope=1", "no such column"),
    ("grade=zzz", "grade"),
])
def test_bad_condition_is_one_line_exit_2(project: Path, condition: str, message: str) -> None:
    out = project / "bad.parquet"
    result = invoke(project, "generate", "--model", project / "model.ckpt", "--out", out,
                    "--condition", condition, code=2)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("content", [None, b"not a checkpoint", "torch-dict"])
def test_bad_checkpoint_is_one_line_exit_2(tmp_path: Path, project: Path, content) -> None:
    path = tmp_path / "model.ckpt"
    if content == "torch-dict":
        torch.save({"state_dict": {}, "synth": {"schema_version": 99}}, path)
    elif content is not None:
        path.write_bytes(content)
    result = invoke(project, "generate", "--model", path, "--out", tmp_path / "o.parquet",
                    code=2)
    assert str(path) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_prepared_data_is_a_user_error(tmp_path: Path, project: Path) -> None:
    result = invoke(project, "train", "--data-dir", tmp_path / "nowhere", "--model",
                    tmp_path / "m.ckpt", "--log-dir", tmp_path / "log", code=2)
    assert "nowhere" in result.stderr


def test_resume_continues_epochs_and_steps(tmp_path: Path) -> None:
    root = make_project(tmp_path, n=120)
    train(root, "first.ckpt")
    first = read_checkpoint(root / "first.ckpt")
    set_train(root, epochs=4, resume=True)
    train(root, "first.ckpt")
    resumed = read_checkpoint(root / "first.ckpt")
    assert (first["epoch"], resumed["epoch"]) == (2, 4)
    assert resumed["global_step"] == 2 * first["global_step"]
    # An uninterrupted 4-epoch run lands on the same weights (epoch-seeded draws).
    set_train(root, epochs=4, resume=False)
    train(root, "straight.ckpt", "log2")
    straight = read_checkpoint(root / "straight.ckpt")["state_dict"]
    assert all(torch.equal(straight[k], resumed["state_dict"][k]) for k in straight)
    # The fresh run overwrote last.ckpt rather than leaving a stale one beside last-v1.ckpt.
    assert [p.name for p in (root / "checkpoints").iterdir()] == ["last.ckpt"]
    assert read_checkpoint(root / "checkpoints" / "last.ckpt")["global_step"] == \
        resumed["global_step"]


def test_numeric_range_conditions_hold_in_every_row(project: Path) -> None:
    invoke(project, "generate", "--model", project / "model.ckpt", "--out",
           project / "range.parquet", "--rows", 200, "--condition", "age>=60",
           "--condition", "grade=a")
    out = pd.read_parquet(project / "range.parquet")
    assert len(out) == 200 and (out["age"] >= 60).all() and (out["grade"] == "a").all()


def test_augment_cli_rebalances_and_writes_the_lift(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["augment"] = {"mode": "rebalance", "target": "grade", "lift_seeds": 2,
                         "flag_column": "is_synthetic"}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    out, metrics = project / "aug" / "train.parquet", project / "aug" / "metrics.json"
    invoke(project, "augment", "--data-dir", project / "prepared", "--model",
           project / "model.ckpt", "--out", out, "--metrics", metrics)
    real = pd.read_parquet(project / "prepared" / "train.parquet")
    aug = pd.read_parquet(out)
    counts = real["grade"].value_counts()
    assert (aug["grade"].value_counts() == counts.max()).all()
    assert aug["is_synthetic"].sum() == len(aug) - len(real)
    pd.testing.assert_frame_equal(aug.iloc[:len(real)].drop(columns="is_synthetic"), real)
    lift = yaml.safe_load(metrics.read_text())["augment"]
    details = yaml.safe_load((metrics.parent / "details.json").read_text())
    assert details["task"] == "classification" and len(details["augmented"]) == 2
    assert set(lift["lift"]) == {"macro_f1", "balanced_accuracy", "minority_recall"}
