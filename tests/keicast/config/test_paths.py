"""Paths in ``run:``: relative to the config's folder, outputs apart from each other and from the inputs."""

import pytest

from keicast.config import load_settings

from ...conftest import base_config, write_config
from .conftest import problems_of


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


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("register_file", "data/nope.yaml", "an existing file (found nothing at "),
        ("reference_dir", "data/nowhere", "an existing folder (found nothing at "),
        ("reference_class_dir", "config.yaml", "an existing folder (found a file at "),
    ],
)
def test_a_missing_input_names_the_file_key_and_value(tmp_path, name, value, expected):
    problems, message = problems_of(tmp_path, config=base_config(tmp_path, **{name: value}))
    assert [(p.file, p.key, p.value) for p in problems] == [(str(tmp_path / "config.yaml"), f"run.{name}", value)]
    assert f"config.yaml: run.{name} = '{value}': {expected}{tmp_path / value})" in message
