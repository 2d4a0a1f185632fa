"""`calibrate` and `backtest`: the model commands, their JSON fields and their bad-input errors."""

import json

import pytest

from keicast.cli import app
from models import baseline

from ...conftest import ROOT, base_config, write_config
from .conftest import runner


def test_calibrate_prints_estimates_with_standard_errors(tmp_path):
    from models.diffusion import BassFit

    truth = BassFit("increments")
    truth.p_, truth.q_, truth.m_ = 0.01, 0.5, 500_000
    values = truth.predict(range(1, 16))
    csv = tmp_path / "adoption.csv"
    csv.write_text("year,value\n" + "".join(f"{2000 + i},{v:.1f}\n" for i, v in enumerate(values)))
    result = runner.invoke(app, ["calibrate", str(csv), "--format", "json"])
    assert result.exit_code == 0, result.output
    fit = json.loads(result.output)
    est = {p["parameter"]: p for p in fit["parameters"]}
    assert est["p"]["estimate"] == pytest.approx(0.01, rel=1e-3)
    assert est["q"]["estimate"] == pytest.approx(0.5, rel=1e-3)
    assert est["m"]["estimate"] == pytest.approx(500_000, rel=1e-3)
    assert fit["df"] == 12 and fit["converged"] and "residual_standard_error" in fit
    table = runner.invoke(app, ["calibrate", str(csv), "--form", "pdf"])
    assert table.exit_code == 0 and "degrees of freedom" in table.output


def test_calibrate_exits_3_when_the_fit_did_not_converge(tmp_path):
    csv = tmp_path / "still_rising.csv"  # growth that has not slowed: m and p run to their search bounds
    csv.write_text("year,value\n" + "".join(f"{2010 + i},{100 * 1.65**i:.1f}\n" for i in range(8)))
    table = runner.invoke(app, ["calibrate", str(csv)])
    assert table.exit_code == 3 and "converged: False (on bound: p, m)" in table.output, table.output
    assert "did not converge (p, m on a search bound)" in table.output and "what to do: " in table.output
    assert "gate" not in table.output  # an ad-hoc fit, not a run's gate
    as_json = runner.invoke(app, ["calibrate", str(csv), "--format", "json"])
    assert as_json.exit_code == 3 and json.loads(as_json.stdout)["converged"] is False


def test_calibrate_bad_input(tmp_path):
    csv = tmp_path / "short.csv"
    csv.write_text("value\n1\n2\n")
    assert runner.invoke(app, ["calibrate", str(csv)]).exit_code == 2
    assert runner.invoke(app, ["calibrate", str(tmp_path / "none.csv")]).exit_code == 2
    assert runner.invoke(app, ["calibrate", str(csv), "--form", "cdf"]).exit_code == 2


def test_backtest_reports_skill_per_horizon(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path))
    result = runner.invoke(app, ["backtest", "--config", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["horizon"] for r in rows} == set(range(1, 11))
    assert {r["model"] for r in rows} == {*baseline.CANDIDATES, baseline.NESTED}
    selected = [r for r in rows if r["selected"]]
    assert len({r["model"] for r in selected}) == 1 and len(selected) == 10
    assert all(0 <= r["coverage_80"] <= r["coverage_90"] <= 1 for r in rows)
    naive = [r for r in rows if r["model"] == "naive"]
    assert all(r["skill_vs_naive"] == 0 for r in naive)
    nested = [r for r in rows if r["model"] == baseline.NESTED]
    assert len(nested) == 10 and not any(r["selected"] for r in nested)


def test_backtest_table_states_the_skill_of_choosing_inside_each_origin(tmp_path):
    fixed = runner.invoke(app, ["backtest", "--config", str(write_config(tmp_path, base_config(tmp_path)))])
    assert fixed.exit_code == 0, fixed.output
    assert "fixed in advance" in fixed.output and "Choosing among the candidates inside each origin" in " ".join(
        fixed.output.split()
    )
    config = base_config(tmp_path)
    config["baseline"] = {**config.get("baseline", {}), "model": "auto"}
    chosen = runner.invoke(app, ["backtest", "--config", str(write_config(tmp_path, config))])
    assert chosen.exit_code == 0, chosen.output
    assert "chosen inside each origin" in chosen.output and "e+" not in chosen.output


ADOPTION_FIELDS = [
    "series",
    "mode",
    "fit_years",
    "model",
    "cumulative_actual",
    "cumulative_forecast",
    "abs_pct_error",
    "crps",
    "coverage_80",
    "holdout_years",
]


def test_adoption_backtest_json_scores_every_analog_and_an_analysts_own(tmp_path):
    smart = (ROOT / "data" / "reference" / "us_smart_fortwo_sales_annual.csv").read_text()
    own = tmp_path / "my_microcar.csv"
    own.write_text(smart.replace("24622", "20000"))  # an analyst's own series, 9 years with gaps
    path = write_config(tmp_path, base_config(tmp_path))
    result = runner.invoke(app, ["backtest", "--adoption", "--config", str(path), "--series", str(own), "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert all(list(r) == ADOPTION_FIELDS for r in rows)
    series = {r["series"] for r in rows}
    assert len(series) == 7 and "my_microcar" in series
    pre = [r for r in rows if r["mode"] == "pre_launch"]
    assert (
        len(pre) == 14 and all(r["fit_years"] is None for r in pre) and {r["model"] for r in pre} == {"chain", "naive"}
    )
    own_post = [r for r in rows if r["series"] == "my_microcar" and r["mode"] == "post_launch"]
    assert sorted({r["fit_years"] for r in own_post}) == [3, 4, 5, 6]
    naive = next(r for r in own_post if r["model"] == "naive" and r["fit_years"] == 6)
    assert naive["cumulative_actual"] == 10453 + 6211 + 1276 and naive["cumulative_forecast"] == 3 * 9264


def test_adoption_backtest_json_is_the_reference_class_under_its_model(tmp_path):
    """Issue 23's contract: family hold-outs, each row with its family and interval_ratio_80, the empirical
    benchmark as model reference_class."""
    path = write_config(tmp_path, base_config(tmp_path))
    result = runner.invoke(app, ["backtest", "--adoption", "--config", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {"family", "interval_ratio_80", "shape"} <= set(rows[0]) and len({r["shape"] for r in rows}) == 1
    pre = [r for r in rows if r["mode"] == "pre_launch"]
    assert {r["model"] for r in pre} == {"chain", "naive", "reference_class"}
    chain = [r for r in pre if r["model"] == "chain"]
    assert len(chain) >= 20 and len({r["family"] for r in chain}) >= 8
    assert all(r["interval_ratio_80"] >= 1 for r in rows)
    level = runner.invoke(app, ["backtest", "--adoption", "--config", str(path), "--shape", "level", "-f", "json"])
    assert {r["shape"] for r in json.loads(level.stdout)} == {"level"}


def test_adoption_backtest_bad_input_exits_2(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path))
    bad = tmp_path / "bad.csv"
    bad.write_text("value\n1\n2\n")
    early = tmp_path / "early.csv"
    early.write_text("year,value\n" + "".join(f"{1950 + i},{100 + i}\n" for i in range(8)))
    good = tmp_path / "good.csv"
    good.write_text("year,value\n" + "".join(f"{2010 + i},{100 + 50 * i}\n" for i in range(8)))
    cases = (["--series", str(bad)], ["--series", str(early)], ["--shape", "logistic"])
    for args in (*cases, ["--series", str(good), "--shape", "rise"]):  # a reference-class shape has no own series
        result = runner.invoke(app, ["backtest", "--adoption", "--config", str(path), *args])
        assert result.exit_code == 2, result.output
    assert "year" in runner.invoke(app, ["backtest", "--config", str(path), "--series", str(early)]).output


@pytest.mark.parametrize(
    "rows,expected",
    [
        ("year,value\n2001,5\n2002,7\nlast,9\n2004,3\n2005,2\n", "line 4, year = 'last': a whole year from 1900"),
        ("year,value\n2005,5\n2005,7\n2005,9\n2005,3\n2005,2\n", "line 3, year = 2005: each year once"),
        ("year,value\n2001,5\n2002,inf\n2003,9\n2004,3\n", "line 3, value = 'inf': a number of adoptions"),
        # issue 26: a header-only file, values near the float limit, rows that are months of one year
        ("year,value\n", "'(a header only)': a header line and one row per year, at least 3 years"),
        ("value\n", "'(a header only)'"),
        (
            "year,value\n2001,5\n2002,1e308\n2003,9\n2004,3\n",
            "line 3, value = '1e308': a number of adoptions from 0 to",
        ),
        ("# months\ndate,value\n2020-01,5\n2020-02,7\n2020-03,9\n2020-04,3\n", "line 2 = 'date,value': a header"),
        ("year,value\n2020.25,5\n2020.5,7\n2020.75,9\n2021,3\n", "line 2, year = '2020.25': a whole year"),
        ("year,value\n2020,5\n2021,7\n", "year = '2 distinct year(s)': at least 3 distinct years"),
        ("year,value\n2020,5\n2021\n2022,7\n", "line 3 = '2021': 2 comma-separated field(s)"),
    ],
)
def test_calibrate_refuses_bad_years_and_values(tmp_path, rows, expected):
    csv = tmp_path / "series.csv"
    csv.write_text(rows)
    result = runner.invoke(app, ["calibrate", str(csv)])
    assert result.exit_code == 2 and expected in result.output and "converge" not in result.output, result.output
    assert str(csv) in result.output and "Traceback" not in result.output and "unexpected" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["series.csv"]


@pytest.mark.parametrize(
    "rows,expected",
    [
        ("year,value\n", "'(a header only)'"),
        ("year,value\n" + "".join(f"{2010 + i},{1e308 if i == 4 else 100}\n" for i in range(8)), "line 6, value"),
        (
            "value\n" + "100\n" * 8,
            "line 1 = 'value': a header line naming the columns 'year,value' (and optionally 'unit'), nothing else",
        ),
        ("year,value\n" + "".join(f"{2010 + i},{0 if i == 2 else 100}\n" for i in range(8)), "line 4, value = 0.0"),
    ],
)
def test_backtest_series_uses_the_same_validated_reader(tmp_path, rows, expected):
    path = write_config(tmp_path, base_config(tmp_path))
    own = tmp_path / "mine.csv"
    own.write_text(rows)
    result = runner.invoke(app, ["backtest", "--adoption", "--config", str(path), "--series", str(own)])
    assert result.exit_code == 2 and expected in result.output and str(own) in result.output, result.output
    assert "Traceback" not in result.output
