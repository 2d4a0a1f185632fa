"""CLI contract: bad input exits 2 with file, key and value and changes nothing; tools print what they say."""

import hashlib
import json

import pytest
import yaml
from typer.testing import CliRunner

from keicast.cli import app
from models import baseline

from .conftest import ROOT, base_config, write_config

runner = CliRunner()


def snapshot(tmp_path):
    """Hash of every file under the project folder except the configs we write."""
    digest = {}
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and not path.name.endswith(".yaml"):
            digest[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A project folder with an existing warehouse and published report, to prove they stay untouched."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "warehouse.duckdb").write_bytes(b"pretend warehouse")
    (tmp_path / "reports" / "r0").mkdir(parents=True)
    (tmp_path / "reports" / "r0" / "index.html").write_text("<p>previous report</p>")
    return tmp_path


def bad_configs(tmp):
    good = base_config(tmp)

    def with_(mutate):
        c = yaml.safe_load(yaml.safe_dump(good))
        mutate(c)
        return yaml.safe_dump(c, sort_keys=False)

    return {
        "malformed": ("run: {draws: [1, 2\n", [], ["line"]),
        "empty": ("", [], ["empty file"]),
        "not a mapping": ("- 1\n- 2\n", [], ["mapping"]),
        "unknown key": (with_(lambda c: c["run"].update(drawz=5)), [], ["run.drawz", "did you mean 'draws'"]),
        "wrong type": (with_(lambda c: c["run"].update(seed="abc")), [], ["run.seed", "'abc'"]),
        "share out of range": (
            with_(lambda c: c.update(assumptions={"japan.kei_share": 1.4})),
            [],
            ["assumptions.japan.kei_share", "1.4", "[0, 1]"],
        ),
        "zero price": (with_(lambda c: c.update(assumptions={"kei.target_price": 0})), [], ["kei.target_price", "> 0"]),
        "tariff above 1": (
            with_(lambda c: c["scenarios"]["japan_imports_tariff"].update(assumptions={"policy.import_tariff": 1.5})),
            [],
            ["scenarios.japan_imports_tariff.assumptions.policy.import_tariff", "1.5"],
        ),
        "nan": (
            with_(lambda c: None).replace("assumptions: {}", "assumptions: {policy.import_tariff: .nan}"),
            [],
            ["policy.import_tariff", "nan"],
        ),
        "unknown scenario": (with_(lambda c: None), ["--scenario", "nope"], ["--scenario", "'nope'"]),
        "malformed --set": (with_(lambda c: None), ["--set", "kei.target_price"], ["--set", "KEY=VALUE"]),
        "alias bomb": ("a: &a [1, 1]\nb: &b [*a, *a]\nc: [*b, *b]\n", [], ["aliases"]),
        "python tag": ("run: !!python/object/apply:os.system ['true']\n", [], ["python/object/apply"]),
        "sql in key": (
            with_(lambda c: None),
            ["--set", "x;drop table runs=1"],
            ["x;drop table runs", "[a-z0-9_.] only"],
        ),
        "shell in key": (with_(lambda c: None), ["--set", "kei.$(touch pwned)=1"], ["[a-z0-9_.] only"]),
        "every problem at once": (
            with_(lambda c: (c["run"].update(drawz=5), c.update(assumptions={"policy.import_tarif": 0.1}))),
            ["--set", "kei.target_pric=9000"],
            ["run.drawz", "assumptions.policy.import_tarif", "did you mean 'policy.import_tariff'", "kei.target_pric"],
        ),
        "missing field": (
            with_(lambda c: c["scenarios"]["status_quo"].pop("description")),
            [],
            ["scenarios.status_quo.description", "this key is required"],
        ),
    }


@pytest.mark.parametrize("case", list(bad_configs(ROOT)))
def test_bad_input_exits_2_and_changes_nothing(published, case):
    text, extra, expected = bad_configs(published)[case]
    (published / "config.yaml").write_text(text)
    before = snapshot(published)
    result = runner.invoke(app, ["run", "--config", "config.yaml", *extra])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in expected:
        assert fragment in result.output, (fragment, result.output)
    assert "config.yaml" in result.output or "--s" in result.output
    assert snapshot(published) == before
    assert not (published / "pwned").exists()


def test_missing_config_path_exits_2(published):
    result = runner.invoke(app, ["run", "--config", "missing.yaml"])
    assert result.exit_code == 2 and "missing.yaml" in result.output and "not found" in result.output


def test_unknown_command_option_is_usage_error():
    assert runner.invoke(app, ["run", "--no-such-option"]).exit_code == 2


@pytest.mark.parametrize(
    "args, option",
    [
        (["run", "--draws", "0"], "--draws"),
        (["run", "--seed", str(2**70)], "--seed"),
        (["runs", "--limit", "-1"], "--limit"),
    ],
)
def test_bad_option_values_are_blamed_on_the_option(published, args, option):
    (published / "config.yaml").write_text(yaml.safe_dump(base_config(published)))
    before = snapshot(published)
    result = runner.invoke(app, [*args, "--config", "config.yaml"])
    assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output
    assert "config.yaml: run." not in result.output
    assert snapshot(published) == before


def test_version_and_help_read_like_a_tool():
    assert runner.invoke(app, ["--version"]).output.startswith("keicast ")
    helped = runner.invoke(app, ["run", "--help"]).output
    assert "KEY=VALUE" in helped and "--quiet" in helped and "<list" not in helped and "<bool>" not in helped
    assert "<pdf|increments>" in runner.invoke(app, ["calibrate", "--help"]).output


def test_validate_passes_and_fails_with_exit_3(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path))
    ok = runner.invoke(app, ["validate", "--config", str(path)])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["validate", "--config", str(path), "--set", "market.avg_new_vehicle_price=5000"])
    assert bad.exit_code == 3
    assert "US average new-vehicle price is plausible" in bad.output
    assert "kei target price below the US average price" in bad.output


def test_assumptions_json_lists_every_article_figure_with_quote_and_source(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path))
    result = runner.invoke(app, ["assumptions", "--config", str(path), "--format", "json", "--scenario", "status_quo"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert {"key", "value", "low", "high", "unit", "kind", "source", "quote"} <= set(records[0])
    articles = [r for r in records if r["kind"] == "article"]
    assert len(articles) >= 15
    assert all(r["quote"] and r["source"].split(" ")[0].endswith(".txt") for r in articles)
    tariff = next(r for r in records if r["key"] == "policy.section_232_auto_tariff")
    assert tariff["value"] == 0.25 and "25%" in tariff["quote"] and tariff["source"].startswith("002_")
    current = next(r for r in records if r["key"] == "policy.import_tariff")
    assert current["value"] == 0.15 and current["low"] == 0.15 and current["high"] >= 0.25


def test_assumptions_csv_and_table(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path))
    csv = runner.invoke(app, ["assumptions", "--config", str(path), "--format", "csv"])
    assert csv.exit_code == 0 and csv.output.startswith("scenario,key,value")
    table = runner.invoke(app, ["assumptions", "--config", str(path)])
    assert table.exit_code == 0 and "kei.target_price" in table.output


def test_sources_verify_on_fixtures_and_failure(tmp_path):
    fixtures = ROOT / "tests" / "fixtures"
    ok = runner.invoke(
        app,
        [
            "sources",
            "verify",
            "--articles",
            str(fixtures / "articles"),
            "--register",
            str(fixtures / "register_small.yaml"),
        ],
    )
    assert ok.exit_code == 0 and "2/2 quotes verified" in ok.output
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = runner.invoke(
        app, ["sources", "verify", "--articles", str(empty), "--register", str(fixtures / "register_small.yaml")]
    )
    assert bad.exit_code == 1 and "not found" in bad.output


def test_sources_verify_on_the_source_articles():
    result = runner.invoke(
        app,
        [
            "sources",
            "verify",
            "--articles",
            str(ROOT / "data" / "articles"),
            "--register",
            str(ROOT / "data" / "register.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output


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
    assert {r["model"] for r in rows} == set(baseline.CANDIDATES)
    selected = [r for r in rows if r["selected"]]
    assert len({r["model"] for r in selected}) == 1 and len(selected) == 10
    assert all(0 <= r["coverage_80"] <= r["coverage_90"] <= 1 for r in rows)
    naive = [r for r in rows if r["model"] == "naive"]
    assert all(r["skill_vs_naive"] == 0 for r in naive)


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


def test_adoption_backtest_bad_input_exits_2(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path))
    bad = tmp_path / "bad.csv"
    bad.write_text("value\n1\n2\n")
    early = tmp_path / "early.csv"
    early.write_text("year,value\n" + "".join(f"{1950 + i},{100 + i}\n" for i in range(8)))
    for args in (["--series", str(bad)], ["--series", str(early)], ["--shape", "logistic"]):
        result = runner.invoke(app, ["backtest", "--adoption", "--config", str(path), *args])
        assert result.exit_code == 2, result.output
    assert "year" in runner.invoke(app, ["backtest", "--config", str(path), "--series", str(early)]).output


@pytest.fixture
def inbox_project(prefect_server, tmp_path):
    import shutil

    register = tmp_path / "register.yaml"
    shutil.copy(ROOT / "data" / "register.yaml", register)
    inbox = tmp_path / "articles"
    inbox.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "inbox" / "prices.md", inbox / "prices.md")
    config = base_config(tmp_path, register_file=str(register), articles_dir=str(inbox))
    return write_config(tmp_path, config), register, inbox


def scan_json(config):
    result = runner.invoke(app, ["articles", "scan", "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)


def test_articles_scan_lists_claims_with_status_and_skips_unchanged(inbox_project):
    config, _, inbox = inbox_project
    result, claims = scan_json(config)
    assert "1 article(s) new or changed" in result.stderr
    by_text = {c["text"]: c for c in claims}
    assert by_text["$48,000"]["status"] == "contradicts" and by_text["$48,000"]["qualifier"] == "about"
    assert by_text["25%"]["status"] == "confirms" and by_text["25%"]["key"] == "policy.section_232_auto_tariff"
    assert all(c["article"] == "New-car prices ease" for c in claims)
    again, same = scan_json(config)
    assert "0 article(s) new or changed" in again.stderr and same == claims
    (inbox / "empty.txt").write_text("")
    bad = runner.invoke(app, ["articles", "scan", "--config", str(config)])
    assert bad.exit_code == 0 and "empty.txt: rejected: empty file" in bad.stderr


def test_accepting_a_claim_is_a_reviewed_register_change(inbox_project):
    from keicast.register import load_register

    config, register, _ = inbox_project
    before = load_register(register)
    _, claims = scan_json(config)
    price = next(c for c in claims if c["text"] == "$48,000")
    result = runner.invoke(
        app, ["articles", "accept", price["claim_id"], "--key", "market.avg_new_vehicle_price", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "-version: 3" in result.stdout and "+version: 4" in result.stdout and "+    value: 48000" in result.stdout
    after = load_register(register)
    entry = after.assumptions["market.avg_new_vehicle_price"]
    assert entry.value == 48_000 and entry.evidence[0].figure == "$48,000"
    assert entry.evidence[1] == before.assumptions["market.avg_new_vehicle_price"].evidence[0]
    assert "# keicast evidence register" in register.read_text()  # comments survive the edit
    source = after.source(entry.evidence[0].source)
    assert source.publisher == "Test Wire" and source.headline == "New-car prices ease" and source.folder
    from keicast.register import verify_quotes

    assert all(c.ok for c in verify_quotes(after, ROOT / "tests" / "fixtures" / "articles") if c.source == source.id)
    new_key = runner.invoke(
        app, ["articles", "accept", price["claim_id"], "--key", "market.kbb_price_fixture", "--config", str(config)]
    )
    assert new_key.exit_code == 0
    assert load_register(register).assumptions["market.kbb_price_fixture"].use.startswith("context only")
    _, rescanned = scan_json(config)
    assert (
        next(c for c in rescanned if c["claim_id"] == price["claim_id"])["accepted_key"] == "market.kbb_price_fixture"
    )


def test_accept_refuses_unknown_claims_and_mismatched_units(inbox_project):
    config, register, _ = inbox_project
    text = register.read_text()
    _, claims = scan_json(config)
    price = next(c for c in claims if c["text"] == "$48,000")
    unknown = runner.invoke(app, ["articles", "accept", "nope", "--key", "kei.target_price", "--config", str(config)])
    assert unknown.exit_code == 2 and "CLAIM_ID" in unknown.output
    mismatch = runner.invoke(
        app, ["articles", "accept", price["claim_id"], "--key", "japan.kei_share", "--config", str(config)]
    )
    assert mismatch.exit_code == 2 and "fraction" in mismatch.output
    bad_key = runner.invoke(
        app, ["articles", "accept", price["claim_id"], "--key", "Bad Key;", "--config", str(config)]
    )
    assert bad_key.exit_code == 2
    assert register.read_text() == text


# ---------------------------------------------------------------------------------------------- hardening (#18)
def test_accept_changes_register_and_warehouse_together_or_neither(inbox_project, monkeypatch):
    from keicast import warehouse
    from keicast.register_editor import RegisterEdit

    config, register, _ = inbox_project
    text = register.read_text()
    _, claims = scan_json(config)
    price = next(c for c in claims if c["text"] == "$48,000")
    accept = ["articles", "accept", price["claim_id"], "--key", "market.avg_new_vehicle_price", "--config", str(config)]

    def accepted():
        found = warehouse.query(config.parent / "warehouse.duckdb", "select accepted_key from claims")
        return set(found.accepted_key.dropna())

    real_write = RegisterEdit.write

    def write_then_fail(self):
        real_write(self)
        raise OSError(5, "Input/output error")  # the warehouse commit's turn to fail, after the register moved

    monkeypatch.setattr(RegisterEdit, "write", write_then_fail)
    failed = runner.invoke(app, accept)
    assert failed.exit_code == 1 and register.read_text() == text and accepted() == set()
    monkeypatch.undo()
    first = runner.invoke(app, accept)  # the retry works: nothing half-done stands in its way
    assert first.exit_code == 0, first.output
    after = register.read_text()
    again = runner.invoke(app, accept)
    assert again.exit_code == 0 and "already evidence" in again.output and again.stdout == ""
    assert register.read_text() == after and accepted() == {"market.avg_new_vehicle_price"}


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


@pytest.mark.parametrize("vary", ["launch_year=inf", "policy.import_tariff=nan", "launch_year=2027.5"])
def test_sweep_refuses_non_finite_values_naming_vary(published, vary):
    (published / "config.yaml").write_text(yaml.safe_dump(base_config(published)))
    before = snapshot(published)
    result = runner.invoke(app, ["sweep", "--config", "config.yaml", "--vary", vary])
    assert result.exit_code == 2 and "--vary" in result.output and "finite numbers" in result.output
    assert snapshot(published) == before


def test_runs_limit_must_be_positive(published):
    assert runner.invoke(app, ["runs", "--limit", "-1"]).exit_code == 2


def test_an_unwritable_prefect_home_is_refused_at_once(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", "/dev/null/prefect")
    path = write_config(tmp_path, base_config(tmp_path))
    result = runner.invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "/dev/null/prefect is not writable" in result.output and "PREFECT_API_URL" in result.output
    assert not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.parametrize("case", ["home", "database"])
def test_an_unwritable_default_home_or_database_is_named_with_the_setting_that_moves_it(tmp_path, monkeypatch, case):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    if case == "home":  # no PREFECT_HOME: Prefect's default ~/.prefect under an unusable HOME
        monkeypatch.delenv("PREFECT_HOME", raising=False)
        monkeypatch.setenv("HOME", "/dev/null")
        expected = ["the folder /dev/null/.prefect is not writable", "HOME=/dev/null", "Set PREFECT_HOME"]
    else:  # a writable home whose SQLite file cannot be opened for writing
        home = tmp_path / "prefect-home"
        (home / "prefect.db").mkdir(parents=True)
        monkeypatch.setenv("PREFECT_HOME", str(home))
        expected = [f"{home / 'prefect.db'} is not writable", "from PREFECT_HOME", "Set PREFECT_HOME"]
    path = write_config(tmp_path, base_config(tmp_path))
    result = runner.invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert all(e in result.output for e in expected), result.output
    assert "starting a temporary Prefect server" not in result.output  # refused before any server starts
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_problems_found_before_a_run_write_nothing(prefect_server, tmp_path, reference_copy):
    """A malformed reference file (exit 2), a truncated warehouse (exit 1) and a real folder at reports/latest
    (exit 1) are found before the run row and the article scan are written."""
    import shutil

    inbox = tmp_path / "articles"
    inbox.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "inbox" / "prices.md", inbox)
    config = write_config(tmp_path, base_config(tmp_path, reference_dir=str(reference_copy)))
    db = tmp_path / "warehouse.duckdb"
    target = reference_copy / "us_light_vehicle_sales_annual.csv"
    good = target.read_text()
    target.write_text(good + "2026,lots,units\n")
    bad_csv = runner.invoke(app, ["run", "--config", str(config)])
    assert bad_csv.exit_code == 2 and "data line" in bad_csv.output and not db.exists(), bad_csv.output
    target.write_text(good)
    (tmp_path / "reports" / "latest").mkdir(parents=True)
    (tmp_path / "reports" / "latest" / "mine.txt").write_text("keep me")
    real_latest = runner.invoke(app, ["run", "--config", str(config)])
    assert real_latest.exit_code == 1 and "never deletes it" in real_latest.output and not db.exists()
    assert (tmp_path / "reports" / "latest" / "mine.txt").read_text() == "keep me"
    import duckdb

    with duckdb.connect(str(db)) as con:
        con.execute("create table filler as select range as a, random() as b from range(200000)")
    with open(db, "r+b") as handle:
        handle.truncate(db.stat().st_size - 300_000)
    before = db.read_bytes()
    truncated = runner.invoke(app, ["run", "--config", str(config)])
    assert truncated.exit_code == 1 and "damaged or truncated" in truncated.output
    assert "Traceback" not in truncated.output and db.read_bytes() == before
