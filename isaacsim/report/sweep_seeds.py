"""A sweep's points over several seeds (`seed` axis: several programmed chips per setting).

This module owns how the report folds seeds: which seeds the finished points have (`seeds_of`),
one row per setting with each metric's mean over its seeds (`mean_over_seeds`, what the heat maps
draw when the seed varies) and the table of mean and standard deviation per setting
(`seed_table`, the report's `seeds.csv`).
"""

from __future__ import annotations

import pandas as pd

from isaacsim.sweep import store as st

TABLE_METRICS = ("accuracy", "agreement", "ops_per_conversion", "energy_j")
"""The metrics of seeds.csv (with those drawn as heat maps)."""


def seeds_of(ok: pd.DataFrame) -> list[int]:
    """The distinct seeds of the rows (none when the column is absent or empty), sorted."""
    if st.SEED not in ok.columns:
        return []
    return sorted({int(v) for v in pd.to_numeric(ok[st.SEED], errors="coerce").dropna()})


def _settings(ok: pd.DataFrame, keys: list[str]):
    """The rows grouped by workload and swept values (the seed aside), in point order."""
    from isaacsim.report.sweep import value_label

    d = ok.sort_values("point", kind="mergesort")
    by = [d["workload"].rename("_wl")] + [d[k].map(value_label).rename(f"_k{i}") for i, k in enumerate(keys)]
    return d.groupby(by, sort=False)


def mean_over_seeds(ok: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per setting (workload and swept values, the seed aside): its lowest point's row with
    every metric replaced by its mean over the setting's seeds (NaN skipped) and a `seeds` column
    (how many rows). `keys` must not hold the seed."""
    metrics = [m for m in st.METRICS if m in ok.columns]
    rows = []
    for _, g in _settings(ok, keys):
        r = g.iloc[0].copy()
        for m in metrics:
            r[m] = pd.to_numeric(g[m], errors="coerce").mean()
        r["seeds"] = len(g)
        rows.append(r)
    return pd.DataFrame(rows, columns=[*ok.columns, "seeds"]).reset_index(drop=True)


def seed_table(ok: pd.DataFrame, keys: list[str], metrics: list[str]) -> pd.DataFrame:
    """Per setting: workload, the swept values, the seeds and how many, then the mean and
    standard deviation (sample, ddof 1; NaN with one seed) of each of TABLE_METRICS and `metrics`.
    The swept values are written as the figures label them (`value_label`: None is "null")."""
    from isaacsim.report.sweep import value_label

    cols = [m for m in dict.fromkeys([*TABLE_METRICS, *metrics]) if m in ok.columns]
    rows = []
    for _, g in _settings(ok, keys):
        r = {"workload": g["workload"].iloc[0], **{k: value_label(g[k].iloc[0]) for k in keys},
             "seeds": " ".join(str(int(s)) for s in g[st.SEED]), "n": len(g)}
        for m in cols:
            v = pd.to_numeric(g[m], errors="coerce")
            r[f"{m}_mean"], r[f"{m}_std"] = v.mean(), v.std(ddof=1)
        rows.append(r)
    return pd.DataFrame(rows)
