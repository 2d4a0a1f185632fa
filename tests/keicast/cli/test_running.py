"""`run`, `validate`, `sweep`: bad input exits 2 naming the file, key and value, and changes nothing."""

import pytest

from keicast.cli import app
from keicast.yamlfile import dump_yaml

from ...conftest import ROOT, base_config, write_config
from .conftest import bad_configs, runner, snapshot


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
    (published / "config.yaml").write_text(dump_yaml(base_config(published)))
    before = snapshot(published)
    result = runner.invoke(app, [*args, "--config", "config.yaml"])
    assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output
    assert "config.yaml: run." not in result.output
    assert snapshot(published) == before


def test_validate_passes_and_fails_with_exit_3(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path))
    ok = runner.invoke(app, ["validate", "--config", str(path)])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["validate", "--config", str(path), "--set", "market.avg_new_vehicle_price=5000"])
    assert bad.exit_code == 3
    assert "US average new-vehicle price is plausible" in bad.output
    assert "kei target price below the US average price" in bad.output


@pytest.mark.parametrize("vary", ["launch_year=inf", "policy.import_tariff=nan", "launch_year=2027.5"])
def test_sweep_refuses_non_finite_values_naming_vary(published, vary):
    (published / "config.yaml").write_text(dump_yaml(base_config(published)))
    before = snapshot(published)
    result = runner.invoke(app, ["sweep", "--config", "config.yaml", "--vary", vary])
    assert result.exit_code == 2 and "--vary" in result.output and "finite numbers" in result.output
    assert snapshot(published) == before


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
    at = f": line {len(good.splitlines()) + 1} = '2026,lots,units'"  # the file's own line number
    assert bad_csv.exit_code == 2 and at in bad_csv.output and not db.exists(), bad_csv.output
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
