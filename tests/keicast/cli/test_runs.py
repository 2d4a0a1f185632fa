"""`runs`, `report`, `compare`, `sql`, `schema`: commands on stored runs."""

import pandas as pd

from keicast.cli import app

from ...conftest import base_config, write_config
from .conftest import runner


def test_runs_limit_must_be_positive(published):
    assert runner.invoke(app, ["runs", "--limit", "-1"]).exit_code == 2


def test_compare_refuses_a_year_neither_run_forecasts(tmp_path, monkeypatch):
    forecasts = pd.DataFrame({"scenario": "s", "year": range(2026, 2041), "metric": "kei_sales", "p10": 1.0,
                              "p50": 2.0, "p90": 3.0})  # fmt: skip
    assumptions = pd.DataFrame(columns=["scenario", "key", "value", "low", "high", "override_origin", "unit"])
    runs = {label: {"forecasts": forecasts, "assumptions": assumptions} for label in ("RUN_A", "RUN_B")}
    monkeypatch.setattr("keicast.cli.runs._two_runs", lambda *_: ({"RUN_A": "a", "RUN_B": "b"}, runs))
    config = str(write_config(tmp_path, base_config(tmp_path)))
    result = runner.invoke(app, ["compare", "a", "b", "--year", "2099", "--config", config])
    assert result.exit_code == 2, result.output
    assert "--year = 2099: a year the runs forecast, 2026 to 2040" in result.output
