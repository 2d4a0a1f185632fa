import pickle
from types import SimpleNamespace

import pandas as pd
import pytest

from keicast import gates
from keicast.errors import (
    ActualsRefused,
    ConfigError,
    GateFailed,
    InputError,
    KeicastError,
    Problem,
    WarehouseBusy,
    WarehouseDamaged,
    transient,
)


@pytest.mark.parametrize(
    "error, code",
    [
        (KeicastError("x"), 1),
        (ConfigError([Problem("c.yaml", "run.draws", 5, ">= 100")]), 2),
        (GateFailed("history", []), 3),
        (WarehouseBusy("locked"), 1),
        (WarehouseDamaged("w.duckdb", "truncated"), 1),
    ],
)
def test_each_error_type_has_its_exit_code(error, code):
    assert isinstance(error, KeicastError) and error.exit_code == code


def test_a_problem_names_file_key_value_and_expectation():
    assert str(Problem("config.yaml", "run.draws", 5, "an integer >= 100")) == (
        "config.yaml: run.draws = 5: an integer >= 100"
    )
    assert str(Problem("config.yaml", "", "x", "a mapping")) == "config.yaml = 'x': a mapping"


def test_a_key_that_is_the_value_says_it_once():
    assert str(Problem("config.yaml", "scenarios.nope", "nope", "a known scenario")) == (
        "config.yaml: scenarios.nope: a known scenario"
    )


def test_a_long_value_is_shortened():
    text = str(Problem("f", "k", "v" * 500, "short"))
    assert "..." in text and len(text) < 200 and text.endswith(": short")


def test_config_error_lists_every_problem_and_counts_them():
    one = ConfigError([Problem("c.yaml", "run.seed", "abc", "an integer")])
    assert str(one).startswith("invalid configuration (1 problem); nothing was run or changed:")
    two = ConfigError([Problem("c.yaml", "run.seed", "abc", "an integer"), Problem("c.yaml", "run.drawz", 5, "?")])
    lines = str(two).splitlines()
    assert lines[0].startswith("invalid configuration (2 problems)")
    assert lines[1:] == ["  - c.yaml: run.seed = 'abc': an integer", "  - c.yaml: run.drawz = 5: ?"]


def test_config_error_survives_pickling():
    error = ConfigError([Problem("c.yaml", "run.seed", "abc", "an integer")])
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ConfigError and again.problems == error.problems and str(again) == str(error)
    error.outcome = "run r1 stopped before it began"
    assert "; run r1 stopped before it began:" in str(pickle.loads(pickle.dumps(error)))


@pytest.mark.parametrize(
    "problems, heading",
    [
        ([Problem("QUERY", "", "selec 1", 'Parser Error: syntax error at or near "selec"')], "invalid usage ("),
        ([Problem("RUN_A", "", "nope", "a run id"), Problem("--metric", "", "x", "a metric")], "invalid usage ("),
        ([Problem("--key", "", "kei.prise", "a register key")], "invalid usage ("),
        (
            [Problem("c.yaml", "run.seed", "abc", "an integer"), Problem("--set", "k", "k", "a key")],
            "invalid configuration (",
        ),
        ([Problem("run.warehouse", "", "/tmp/w", "a DuckDB file, not a folder")], "invalid configuration ("),
    ],
)
def test_the_heading_fits_where_the_problems_are(problems, heading):
    error = ConfigError(problems)
    assert str(error).startswith(heading) and error.exit_code == 2


def test_a_subclass_chooses_its_heading_and_outcome():
    bad_row = [Problem("data/reference/x.csv", "data line 3", "2000,lots,units", "year,value,unit")]
    assert str(InputError(bad_row)).startswith("invalid input (1 problem); nothing was run or changed:\n  - data/")
    assert str(ActualsRefused(bad_row)).startswith("actuals refused (1 problem); nothing was stored or changed:")
    assert InputError(bad_row).exit_code == ActualsRefused(bad_row).exit_code == 2


def failure(n: int, advice: str | None = "fix the input") -> dict:
    return {"expectation": f"history: check {n}", "observed": f"row {n}", "expected": "> 0", "advice": advice}


def test_gate_failed_lists_failures_with_what_to_do():
    text = str(GateFailed("history", [failure(1), failure(2, advice=None)], docs_path="docs/index.html"))
    assert text.splitlines() == [
        "data-quality gate 'history' failed; nothing was published:",
        "  - history: check 1: row 1; expected > 0",
        "    what to do: fix the input",
        "  - history: check 2: row 2; expected > 0",
        "Data Docs: docs/index.html",
    ]


def test_gate_failed_shows_twenty_failures_and_counts_the_rest():
    text = str(GateFailed("forecasts", [failure(i, advice=None) for i in range(25)]))
    assert "check 19" in text and "check 20:" not in text
    assert text.splitlines()[-1] == "  ... and 5 more (see the gate_results table)"


def test_gate_failed_pickles_with_its_results():
    results = pd.DataFrame(
        [["history", "e", "check", "value", False, "row 1", "> 0", "fix", pd.Timestamp("2026-01-01")]],
        columns=gates.RESULT_COLUMNS,
    )
    error = GateFailed("history", [failure(1)], "docs/index.html", results)
    again = pickle.loads(pickle.dumps(error))
    assert (again.suite, again.failures, again.docs_path) == ("history", [failure(1)], "docs/index.html")
    pd.testing.assert_frame_equal(again.results, results)
    assert str(again) == str(error)


def test_warehouse_damaged_names_the_file_and_pickles():
    error = WarehouseDamaged("/p/warehouse.duckdb", "truncated")
    assert "/p/warehouse.duckdb is damaged or truncated (truncated)" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert (again.path, again.detail, str(again)) == (error.path, error.detail, str(error))


def state_returning(value):
    return SimpleNamespace(result=lambda raise_on_failure=True: value)


@pytest.mark.parametrize(
    "result, retried",
    [
        (OSError("disk hiccup"), True),
        (RuntimeError("boom"), True),
        (WarehouseBusy("locked"), False),
        (ConfigError([]), False),
        (WarehouseDamaged("w", "x"), False),
    ],
)
def test_transient_retries_anything_but_a_keicast_error(result, retried):
    assert transient(None, None, state_returning(result)) is retried
