"""The built-in dataset registry: every table loads with the shape the registry claims."""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from pandas.api import types as ptypes

from pipeline.cli import cli
from pipeline.config import PrepareParams, load_params
from pipeline.data.registry import BUILTIN_DIR, DATASETS, DEFAULT_DATASET, load_dataset
from pipeline.data.schema import infer_roles
from pipeline.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_builtin_dataset_loads_with_claimed_shape(name):
    info = DATASETS[name]
    df = load_dataset(name)
    assert df.shape == (info.rows, info.columns)
    assert info.name == name and info.source and info.licence and info.description
    assert info.target is None or info.target in df.columns
    for column in info.dates:
        assert ptypes.is_datetime64_any_dtype(df[column])
    assert not df.columns.duplicated().any()


def test_every_file_in_builtin_is_registered_and_documented():
    files = {p.name for p in BUILTIN_DIR.iterdir() if p.name != "PROVENANCE.md"}
    assert files == {d.file for d in DATASETS.values()}
    provenance = (BUILTIN_DIR / "PROVENANCE.md").read_text()
    assert all(f"`{name}`" in provenance for name in DATASETS)
    # flights (336,776 rows, xz) is 4.3 MiB of the total; the rest together 1.3 MiB
    assert sum(p.stat().st_size for p in BUILTIN_DIR.iterdir()) < 6 * 2**20


def test_required_kinds_of_table_are_there():
    assert max(d.rows for d in DATASETS.values()) >= 300_000  # scale is part of the benchmark
    assert {"credit", "german_credit"} <= set(DATASETS)


def test_default_dataset_is_real_mixed_and_has_missing_values():
    assert PrepareParams().dataset == DEFAULT_DATASET
    params = load_params(ROOT / "params.yaml").prepare
    assert params.dataset == DEFAULT_DATASET and params.target == DATASETS[DEFAULT_DATASET].target
    df = load_dataset(DEFAULT_DATASET)
    roles = set(infer_roles(df).values())
    assert {"categorical", "integer"} <= roles
    assert len(df) >= 3000 and df.isna().any().any()


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown built-in dataset 'adult'.*credit"):
        load_dataset("adult")


def test_synth_datasets_prints_every_dataset():
    result = CliRunner().invoke(cli, ["datasets"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split() == ["name", "rows", "cols", "target", "source", "licence"]
    listed = {line.split()[0]: line for line in lines[1:]}
    from pipeline.images.datasets import IMAGE_DATASETS

    assert set(listed) == set(DATASETS) | set(IMAGE_DATASETS)  # image sets listed too
    assert "28x28x1" in listed["mnist"]
    assert str(DATASETS["diamonds"].rows) in listed["diamonds"]


def test_strings_stay_strings():
    df = load_dataset("credit")
    assert df["Home"].dtype == object and isinstance(df["Home"].dropna().iloc[0], str)
    assert isinstance(load_dataset("penguins"), pd.DataFrame)


def test_flights_keeps_its_real_cardinality_and_missing_values():
    df = load_dataset("flights")
    assert df["tailnum"].nunique() > 4000  # a real high-cardinality categorical, kept as is
    assert df["dep_time"].isna().sum() == 8255 and df["tailnum"].isna().sum() == 2512
    assert df["carrier"].nunique() == 16 and df["year"].nunique() == 1
    assert df["time_hour"].min() == pd.Timestamp("2013-01-01 10:00:00")  # naive UTC
