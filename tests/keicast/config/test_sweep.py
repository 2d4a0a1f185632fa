"""Sweep values: finite numbers, blamed on --vary."""

from .conftest import error_for


def test_sweep_values_are_blamed_on_vary(tmp_path):
    sweep = {"sweep_001": {"base": "status_quo", "factors": {"launch_year": 2050}}}
    problem = error_for(tmp_path, sweep=sweep).problems[0]
    assert (problem.file, problem.key, problem.value) == ("--vary", "launch_year", 2050)
