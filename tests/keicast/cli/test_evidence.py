"""`assumptions`, `sources verify`, `articles scan` / `accept`: the evidence commands."""

import json

from keicast.cli import app

from ...conftest import ROOT, base_config, write_config
from .conftest import runner, scan_json


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


def test_assumptions_table_names_each_source_short(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path))
    table = runner.invoke(app, ["assumptions", "--config", str(path), "--scenario", "status_quo"])
    assert table.exit_code == 0, table.output
    lines = [[c.strip() for c in line.strip("│").split("│")] for line in table.output.splitlines() if "│" in line]
    source = {cells[1]: cells[-1] for cells in lines}
    assert source["market.us_new_vehicle_sales"] == "000_9f53a505c3a6a64d.txt"  # the article file
    assert source["policy.import_tariff"] == "us_tariff_japan_autos.csv"  # the reference file its rationale names
    assert source["policy.tariff_pass_through"] == "Amiti, Redding & Weinstein …"  # a citation, cut short
    assert source["access.low_speed.addressable_share"] == "rationale"  # an analyst's judgement
    headroom = next(cells for cells in lines if cells[1] == "grey.headroom")
    assert headroom[2:6] == ["30%", "5%", "100%", "ceiling above the 2…"]  # the unit is cut, not what it formats


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
    accept_new = ["articles", "accept", price["claim_id"], "--key", "market.kbb_price_fixture", "--config", str(config)]
    unasked = runner.invoke(app, accept_new)  # a key the register lacks needs --new: a typo must not become one
    assert unasked.exit_code == 2 and "--new" in unasked.output
    assert "market.kbb_price_fixture" not in load_register(register).assumptions
    new_key = runner.invoke(app, [*accept_new, "--new"])
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
        app, ["articles", "accept", price["claim_id"], "--key", "Bad Key;", "--new", "--config", str(config)]
    )
    assert bad_key.exit_code == 2
    typo = runner.invoke(
        app, ["articles", "accept", price["claim_id"], "--key", "market.avg_new_vehicle_prise", "--config", str(config)]
    )
    assert typo.exit_code == 2 and "did you mean 'market.avg_new_vehicle_price'" in typo.output
    assert register.read_text() == text


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


def test_a_missing_inbox_is_named_where_it_was_given(tmp_path):
    """Without DIR the inbox is config.yaml's run.articles_dir: a configuration problem, named by its key."""
    config = write_config(tmp_path, base_config(tmp_path, articles_dir=str(tmp_path / "nowhere")))
    default = runner.invoke(app, ["articles", "scan", "--config", str(config)])
    assert default.exit_code == 2 and "invalid configuration" in default.output, default.output
    assert "run.articles_dir" in default.output and "nowhere" in default.output
    given = runner.invoke(app, ["articles", "scan", str(tmp_path / "elsewhere"), "--config", str(config)])
    assert given.exit_code == 2 and "invalid usage" in given.output and "DIR" in given.output, given.output


def test_a_short_source_says_reference_data_where_no_file_is_named():
    from keicast.cli.evidence import _short_source

    assert _short_source("reference_data", "Fit on data/reference_class (26 launches)") == "reference_class"
    assert _short_source("reference_data", "Japan's kei share, computed") == "reference data"
    assert _short_source("analyst", "A second car for city trips") == "rationale"
    assert _short_source("article", "003_x.txt (Morning Overview)") == "003_x.txt"
