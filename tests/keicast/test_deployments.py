"""The pure parts of the deployments: the schedule and the served deployment, built without a server (the
scheduler itself runs end to end in tests/flows/test_schedule.py)."""

import pytest

from keicast import deployments
from keicast.config import load_settings
from keicast.errors import ConfigError

from ..conftest import base_config, write_config


def settings_with(tmp_path, **schedule):
    config = base_config(tmp_path)
    config["schedule"] = schedule
    return load_settings(write_config(tmp_path, config))


def test_schedule_is_the_configs_cron_in_its_time_zone(tmp_path):
    cron = deployments.schedule(settings_with(tmp_path, cron="30 5 * * 2", timezone="Asia/Tokyo"))
    assert (cron.cron, cron.timezone) == ("30 5 * * 2", "Asia/Tokyo")


def test_the_default_schedule_is_monday_six_utc(tmp_path):
    cron = deployments.schedule(settings_with(tmp_path))
    assert (cron.cron, cron.timezone) == ("0 6 * * 1", "UTC")


def schedule_problem(settings):
    with pytest.raises(ConfigError) as info:
        deployments.schedule(settings)
    assert info.value.exit_code == 2
    (problem,) = info.value.problems
    return problem


def test_a_bad_cron_is_a_config_error_naming_the_file_and_value(tmp_path):
    settings = settings_with(tmp_path, cron="not a cron")
    problem = schedule_problem(settings)
    assert (problem.file, problem.key, problem.value) == (str(settings.config_path), "schedule", "'not a cron' (UTC)")
    assert problem.expected


BAD_ZONE = "keicast/deployments.py schedule(): Cron() accepts an unknown time zone, so it is not a ConfigError there"


def test_a_bad_time_zone_is_a_config_error_naming_the_file_and_value(tmp_path):
    settings = settings_with(tmp_path, timezone="Mars/Olympus")
    problem = schedule_problem(settings)
    assert (problem.key, problem.value) == ("schedule", "'0 6 * * 1' (Mars/Olympus)")


def test_a_bad_time_zone_never_reaches_the_deployment_as_a_validation_error(tmp_path):
    with pytest.raises(ConfigError):
        deployments.served_deployment(settings_with(tmp_path, timezone="Mars/Olympus"))


def test_the_served_deployment_runs_the_pipeline_with_the_configs_absolute_path(tmp_path, monkeypatch):
    write_config(tmp_path, {**base_config(tmp_path), "schedule": {"cron": "0 4 * * *", "timezone": "UTC"}})
    monkeypatch.chdir(tmp_path)
    settings = load_settings("config.yaml")
    deployment = deployments.served_deployment(settings)
    assert deployment.name == deployments.SERVED == "keicast-served"
    assert deployment.flow_name == "keicast-pipeline"
    assert deployment.parameters == {"request": {"config_path": str((tmp_path / "config.yaml").resolve())}}
    assert deployment.tags == ["keicast"] and deployment.description == deployments.DESCRIPTION
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == "0 4 * * *" and schedule.active


def test_served_and_scheduled_deployments_have_distinct_names():
    assert deployments.SERVED != deployments.SCHEDULED and deployments.WORK_POOL == "keicast-process"
