"""Every kind of bad configuration is a ConfigError naming the file, key and value."""

import math

import pytest
import yaml

from keicast.config import load_settings
from keicast.config.problems import parse_set
from keicast.errors import ConfigError

from .conftest import base_config, write_config


def problems_of(tmp_path, text=None, config=None, **kwargs):
    path = tmp_path / "config.yaml"
    if config is not None:
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    elif text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, **kwargs)
    return info.value.problems, str(info.value)


def error_for(tmp_path, **kwargs) -> ConfigError:
    """The ConfigError of loading the quick test config with these command-line arguments."""
    path = write_config(tmp_path, base_config(tmp_path))
    with pytest.raises(ConfigError) as info:
        load_settings(path, **kwargs)
    return info.value


def test_the_shipped_config_is_valid():
    s = load_settings("config.yaml")
    assert len(s.scenarios) == 5 and s.run.draws > 0 and len(s.config_sha256) == 64


def test_malformed_yaml(tmp_path):
    problems, text = problems_of(tmp_path, "run: {draws: [1, 2\n")
    assert "config.yaml" in text and "line" in problems[0].key


def test_empty_file(tmp_path):
    _, text = problems_of(tmp_path, "")
    assert "empty file" in text


def test_non_mapping_top_level(tmp_path):
    _, text = problems_of(tmp_path, "- a\n- b\n")
    assert "mapping" in text and "list" in text


def test_unknown_keys_at_any_depth_with_suggestions(tmp_path):
    config = base_config(tmp_path)
    config["run"]["draw"] = 10
    config["scenarios"]["status_quo"]["launch_yaer"] = 2015
    config["senarios"] = {}
    problems, text = problems_of(tmp_path, config=config)
    keys = {p.key for p in problems}
    assert {"run.draw", "scenarios.status_quo.launch_yaer", "senarios"} <= keys
    assert (
        "did you mean 'draws'" in text and "did you mean 'launch_year'" in text and "did you mean 'scenarios'" in text
    )


def test_wrong_type(tmp_path):
    config = base_config(tmp_path)
    config["run"]["draws"] = "many"
    problems, _ = problems_of(tmp_path, config=config)
    assert problems[0].key == "run.draws" and problems[0].value == "many"


def test_the_backtest_must_reach_the_selection_horizon(tmp_path):
    config = base_config(tmp_path)
    config["baseline"] = {"max_horizon": 8, "coverage_horizon": 5}
    problems, message = problems_of(tmp_path, config=config)
    assert problems[0].key == "baseline" and "coverage_horizon (5) must be at least max_horizon (8)" in message


@pytest.mark.parametrize(
    "key,value,expected",
    [
        ("japan.kei_share", 1.5, "fraction in [0, 1]"),
        ("policy.import_tariff", 1.2, "fraction in [0, 1]"),
        ("kei.target_price", 0, "> 0"),
        ("market.avg_new_vehicle_price", -50000, "> 0"),
        ("demand.price_elasticity", 0.5, "< 0"),
    ],
)
def test_out_of_range_overrides(tmp_path, key, value, expected):
    config = base_config(tmp_path)
    config["assumptions"] = {key: value}
    problems, _ = problems_of(tmp_path, config=config)
    assert problems[0].key == f"assumptions.{key}" and problems[0].value == value
    assert expected in problems[0].expected


@pytest.mark.parametrize("text", [".nan", ".inf", "-.inf"])
def test_nan_and_inf_are_refused(tmp_path, text):
    config_text = yaml.safe_dump(base_config(tmp_path), sort_keys=False).replace(
        "assumptions: {}", f"assumptions: {{policy.import_tariff: {text}}}"
    )
    problems, _ = problems_of(tmp_path, config_text)
    assert problems[0].key.startswith("assumptions.policy.import_tariff")
    assert isinstance(problems[0].value, float) and not math.isfinite(problems[0].value)


def test_range_override_must_be_ordered(tmp_path):
    config = base_config(tmp_path)
    config["assumptions"] = {"policy.tariff_pass_through": {"value": 0.9, "low": 0.95, "high": 1.0}}
    problems, _ = problems_of(tmp_path, config=config)
    assert "low <= value <= high" in problems[0].expected


def test_unknown_scenario(tmp_path):
    error = error_for(tmp_path, scenarios=["status_qou"])
    assert "did you mean 'status_quo'" in str(error) and error.problems[0].file == "--scenario"


@pytest.mark.parametrize(
    "item",
    ["policy.import_tariff", "=0.1", "policy.import_tariff=", "policy.import_tariff=abc", "policy.import_tariff=nan"],
)
def test_malformed_set(tmp_path, item):
    assert error_for(tmp_path, sets=[item]).problems[0].file == "--set"


def test_missing_config_path(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.yaml")
    assert "not found" in str(info.value) and "nope.yaml" in str(info.value)


def test_unreadable_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "UTF-8" in str(info.value)


def test_alias_bomb_is_refused_without_expanding(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    _, text = problems_of(tmp_path, bomb)
    assert "aliases" in text


def test_python_tags_are_refused(tmp_path):
    _, text = problems_of(tmp_path, "run: !!python/object/apply:os.system ['echo pwned']\n")
    assert "python/object/apply" in text


def test_oversized_file_is_refused(tmp_path):
    _, text = problems_of(tmp_path, "# " + "x" * 1_100_000 + "\n")
    assert "bytes" in text


@pytest.mark.parametrize(
    "key",
    [
        "policy.import_tariff; drop table runs",
        "kei.target_price$(rm -rf ~)",
        "x'; --",
        "../etc/passwd",
        "Kei.Target_Price",
    ],
)
def test_keys_with_sql_or_shell_metacharacters_are_refused(tmp_path, key):
    assert "[a-z0-9_.] only" in error_for(tmp_path, sets=[f"{key}=1"]).problems[0].expected
    config = base_config(tmp_path)
    config["assumptions"] = {key: 1}
    problems, _ = problems_of(tmp_path, config=config)
    assert "[a-z0-9_.] only" in problems[0].expected


def test_unknown_assumption_key_suggests(tmp_path):
    assert "did you mean 'policy.import_tariff'" in str(error_for(tmp_path, sets=["policy.import_tarif=0.1"]))


def test_every_problem_is_reported_at_once(tmp_path):
    config = base_config(tmp_path)
    config["assumptions"] = {"policy.import_tariff": 2, "japan.kei_share": -1}
    config["scenarios"]["status_quo"]["assumptions"] = {"kei.target_price": -5}
    problems, text = problems_of(tmp_path, config=config, sets=["nonsense"])
    assert len(problems) == 4
    assert "4 problems" in text


def test_parse_set():
    pairs, problems = parse_set(["policy.import_tariff=0.1", "kei.target_price=12_000"])
    assert pairs == [("policy.import_tariff", 0.1), ("kei.target_price", 12000.0)] and not problems


# ---------------------------------------------------------------------------------------------- hardening (#18)
def test_duplicate_keys_are_refused_with_their_line(tmp_path):
    text = write_config(tmp_path, base_config(tmp_path)).read_text() + "run:\n  draws: 100\n"
    problems, message = problems_of(tmp_path, text)
    assert "duplicate key 'run'" in message and problems[0].key.startswith("line ")


def test_a_register_with_a_key_twice_is_refused(tmp_path):
    from .conftest import ROOT

    register = tmp_path / "register.yaml"
    text = (ROOT / "data" / "register.yaml").read_text()
    register.write_text(text.replace("assumptions:\n", "assumptions:\n  japan.kei_share: {kind: analyst}\n", 1))
    _, message = problems_of(tmp_path, config=base_config(tmp_path, register_file=str(register)))
    assert "register.yaml" in message and "duplicate key 'japan.kei_share'" in message


def test_deep_nesting_is_refused_without_recursion(tmp_path):
    _, message = problems_of(tmp_path, "a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert "nesting deeper than 32 levels" in message


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_config_at_a_device_or_fifo_is_refused_at_once(tmp_path, special):
    import os

    path = tmp_path / "fifo.yaml"
    if special == "fifo":
        os.mkfifo(path)
    else:
        path = special
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(path)


def test_relative_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    config = base_config(tmp_path, warehouse="db/w.duckdb", reports_dir="out/reports", exports_dir="out/exports")
    project = tmp_path / "project"
    project.mkdir()
    path = write_config(project, config)
    monkeypatch.chdir(tmp_path)
    run = load_settings(path).run
    assert run.warehouse == project / "db" / "w.duckdb" and run.reports_dir == project / "out" / "reports"


def test_relative_paths_may_not_leave_the_project_but_absolute_ones_may(tmp_path):
    problems, _ = problems_of(tmp_path, config=base_config(tmp_path, warehouse="../../elsewhere/w.duckdb"))
    assert [p.key for p in problems] == ["run.warehouse"] and "inside the project folder" in problems[0].expected
    outside = tmp_path.parent / "elsewhere.duckdb"  # absolute: the user's explicit choice
    assert load_settings(write_config(tmp_path, base_config(tmp_path, warehouse=str(outside)))).run.warehouse == outside


@pytest.mark.parametrize(
    "paths,key",
    [
        ({"exports_dir": "REPORTS"}, "run.exports_dir"),
        ({"exports_dir": "REPORTS/exports"}, "run.exports_dir"),
        ({"warehouse": "REPORTS/w.duckdb"}, "run.warehouse"),
        ({"reports_dir": "ARTICLES"}, "run.articles_dir"),
    ],
)
def test_outputs_apart_from_each_other_and_from_inputs(tmp_path, paths, key):
    config = base_config(tmp_path)
    for name, value in paths.items():
        config["run"][name] = value.replace("REPORTS", config["run"]["reports_dir"]).replace(
            "ARTICLES", config["run"]["articles_dir"]
        )
    problems, message = problems_of(tmp_path, config=config)
    assert key in {p.key for p in problems} and "publishing a run would overwrite it" in message


def test_memory_per_monte_carlo_chunk_is_bounded(tmp_path):
    problems, message = problems_of(tmp_path, config=base_config(tmp_path, chunk_size=5_000_000))
    assert problems[0].key == "run" and "5.0 GiB per chunk" in message and "chunk_size <= 994,205" in message


def test_a_seed_beyond_int64_and_zero_draws_are_blamed_on_their_options(tmp_path):
    assert error_for(tmp_path, seed=2**70).problems[0].file == "--seed"
    assert error_for(tmp_path, draws=0).problems[0].file == "--draws"


def test_a_scenario_launching_after_the_horizon_is_refused(tmp_path):
    config = base_config(tmp_path)
    config["scenarios"]["status_quo"]["launch_year"] = 2045
    problems, message = problems_of(tmp_path, config=config)
    assert problems[0].key == "scenarios.status_quo.launch_year" and "sells nothing" in message


def test_sweep_values_are_blamed_on_vary(tmp_path):
    sweep = {"sweep_001": {"base": "status_quo", "factors": {"launch_year": 2050}}}
    problem = error_for(tmp_path, sweep=sweep).problems[0]
    assert (problem.file, problem.key, problem.value) == ("--vary", "launch_year", 2050)


def _many_scenarios(tmp_path, size: int):
    """The quick test config with enough one-line scenarios to make the file ``size`` bytes as stored."""
    head = yaml.safe_dump({k: v for k, v in base_config(tmp_path).items() if k != "scenarios"}, sort_keys=False)
    line = "  s{:05d}: {{description: one of many, launch_year: 2028, road_access: kei_class}}\n"
    count = (size - len(head) - len("scenarios:\n")) // len(line.format(0))
    text = head + "scenarios:\n" + "".join(line.format(i) for i in range(count))
    return text + "#" * (size - len(text) - 1) + "\n", count


def test_the_size_limit_counts_the_file_as_stored_and_nothing_else(tmp_path):
    """Issue 26: 9,600 scenarios in 0.99 MB load (one measure: the file's bytes); one byte over 1 MB is refused."""
    from keicast.yamlfile import MAX_YAML_BYTES

    path = tmp_path / "config.yaml"
    text, count = _many_scenarios(tmp_path, 990_000)
    path.write_text(text)
    assert path.stat().st_size == 990_000 and count >= 9_600
    assert len(load_settings(path).scenarios) == count
    path.write_text(text[:-1] + "#" * (MAX_YAML_BYTES + 1 - len(text)) + "\n")
    problems, message = problems_of(tmp_path)
    assert "at most 1,000,000 bytes as stored" in message and "too large: 1,000,001 bytes" in message
