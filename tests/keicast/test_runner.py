"""The frame around a run: run ids, how a run ends, stage timings, flow-run labels, and a failure recorded with
the gate results so far."""

import logging
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pandas as pd
import pytest
from prefect.exceptions import TerminationSignal

from keicast import gates, runner, validator
from keicast.config import RunRequest, TaskRunnerSettings, load_settings
from keicast.errors import ActualsRefused, ConfigError, GateFailed, InputError, KeicastError, Problem

from ..conftest import base_config, query_warehouse, write_config


# ---------------------------------------------------------------------------------------------- run ids
def test_run_ids_are_utc_time_and_six_hex_digits_and_unique():
    ids = [runner.new_run_id() for _ in range(300)]
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    stamp = datetime.strptime(ids[0][:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_run_ids_sort_by_time(monkeypatch):
    times = iter([datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC), datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)])
    monkeypatch.setattr(runner, "datetime", SimpleNamespace(now=lambda tz: next(times)))
    later, earlier = runner.new_run_id(), runner.new_run_id()
    assert later.startswith("20260301T090000Z-") and earlier.startswith("20260228T235959Z-")
    assert sorted([later, earlier]) == [earlier, later]


# ---------------------------------------------------------------------------------------------- outcome
def test_outcome_of_each_kind_of_ending():
    gate = GateFailed("history", [{"expectation": "history: x", "observed": "bad"}])
    assert runner.outcome(gate) == ("failed_gate", str(gate))
    assert runner.outcome(KeyboardInterrupt()) == ("interrupted", "interrupted (Ctrl-C)")
    assert runner.outcome(TerminationSignal(15)) == ("interrupted", "interrupted (terminated)")
    assert runner.outcome(KeicastError("the warehouse is busy")) == ("failed", "the warehouse is busy")
    assert runner.outcome(ValueError("bad number")) == ("failed", "ValueError: bad number")


# ---------------------------------------------------------------------------------------------- timings
@pytest.fixture
def clock(monkeypatch):
    """runner's perf_counter, advanced by hand."""
    now = [100.0]
    monkeypatch.setattr(runner, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    return now


def test_stopwatch_accumulates_per_stage_and_logs_each_stage_change_once(clock, caplog):
    watch = runner.Stopwatch()
    caplog.set_level(logging.INFO, logger="keicast.progress")
    for name, seconds in [("fit_baseline", 1.5), ("fit_baseline", 0.5), ("monte_carlo", 2.0), ("fit_baseline", 1)]:
        clock[0] += 0.5  # between stages
        with watch.stage(name):
            clock[0] += seconds
    assert watch.seconds == {"fit_baseline": 3.0, "monte_carlo": 2.0}
    lines = [r.getMessage() for r in caplog.records if r.name == "keicast.progress"]
    assert lines == ["  0.5 s  fit baseline", "  3.5 s  monte carlo", "  6.0 s  fit baseline"]


def test_a_stage_that_raises_still_counts(clock):
    watch = runner.Stopwatch()
    with pytest.raises(RuntimeError), watch.stage("gate"):
        clock[0] += 3.0
        raise RuntimeError("gate broke")
    assert watch.seconds == {"gate": 3.0}


def test_a_step_outside_a_run_frame_just_runs():
    step = runner.Step(lambda x: x * 2, "double-it", as_task=False)
    assert step(21) == 42 and step.stage == "double_it" and step.task is None
    assert runner.timings() == {}


def test_a_step_inside_a_run_frame_counts_toward_its_stage(clock):
    frame = runner.RunFrame()
    token = runner.FRAME.set(frame)
    try:
        runner.Step(lambda: clock.__setitem__(0, clock[0] + 2.0), "one", stage="fit", as_task=False)()
        runner.Step(lambda: clock.__setitem__(0, clock[0] + 0.5), "two", stage="fit", as_task=False)()
        assert runner.timings() == {"fit": 2.5}
    finally:
        runner.FRAME.reset(token)
    assert runner.timings() == {}


def test_a_step_is_a_task_unless_told_otherwise():
    def load(x):
        """Load something."""
        return x

    step = runner.Step(load, "load-it")
    assert step.task is not None and step.task.name == "load" and step.__doc__ == "Load something."
    assert step.cached is False and runner.Step(load, "c", cache_key_fn=runner.baseline_key).cached is True


# ---------------------------------------------------------------------------------------------- records, labels
def test_a_run_record_publishes_unless_it_is_a_sweep():
    assert runner.RunRecord("r1").publishing is True
    assert runner.RunRecord("r1", sweep={"p1": {"launch_year": 2027}}).publishing is False


def test_flow_run_labels():
    assert runner.flow_run_labels("20260101T000000Z-abcdef", ["a", "b"], False) == (
        "keicast-run-20260101T000000Z-abcdef",
        ["keicast", "run", "run:20260101T000000Z-abcdef", "scenario:a", "scenario:b"],
    )
    name, tags = runner.flow_run_labels("r", [f"s{i}" for i in range(9)], True)
    assert name == "keicast-sweep-r" and tags == ["keicast", "sweep", "run:r", "scenarios:9"]


def test_label_flow_run_returns_early_outside_a_flow_run(monkeypatch):
    import prefect.client.orchestration

    def no_client(*args, **kwargs):
        raise AssertionError("no flow run: the API must not be called")

    monkeypatch.setattr(prefect.client.orchestration, "get_client", no_client)
    assert runner.label_flow_run("r1", ["a"], False) is None


# ---------------------------------------------------------------------------------------------- result cache
def test_the_result_cache_is_private_and_beside_the_warehouse(tmp_path):
    settings = load_settings(write_config(tmp_path, base_config(tmp_path)))
    folder = runner.result_cache(settings)
    assert folder == tmp_path / "warehouse.duckdb.cache" and folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o777)
    with pytest.raises(KeicastError, match="can be written by other users"):
        runner.result_cache(settings)


def test_the_baseline_key_follows_the_market_series_and_the_seed(tmp_path):
    config = base_config(tmp_path)
    settings = load_settings(write_config(tmp_path, config))
    series = settings.config.baseline.series
    history = pd.DataFrame({"series": [series, series, "other"], "year": [2020, 2021, 2021], "value": [1.0, 2.0, 3.0]})
    key = runner.baseline_key(None, {"settings": settings, "history": history})
    assert key.startswith("baseline-") and key == runner.baseline_key(None, {"settings": settings, "history": history})
    other = history.assign(value=[1.0, 2.0, 4.0])
    assert runner.baseline_key(None, {"settings": settings, "history": other}) == key  # another series
    market = history.assign(value=[1.0, 2.5, 3.0])
    assert runner.baseline_key(None, {"settings": settings, "history": market}) != key
    config["run"]["seed"] = settings.run.seed + 1
    reseeded = load_settings(write_config(tmp_path, config, "seeded.yaml"))
    assert runner.baseline_key(None, {"settings": reseeded, "history": history}) != key


def test_the_local_task_runner_is_a_thread_pool():
    from prefect.task_runners import ThreadPoolTaskRunner

    with runner.task_runner(TaskRunnerSettings(workers=3)) as pool:
        assert isinstance(pool, ThreadPoolTaskRunner) and pool._max_workers == 3


# ---------------------------------------------------------------------------------------------- recorded
@pytest.fixture
def project(tmp_path, monkeypatch):
    """A quick project; the GX preload is not the frame's business here."""
    preloads = []
    monkeypatch.setattr(validator, "preload", lambda in_worker=False: preloads.append(in_worker))
    config = write_config(tmp_path, base_config(tmp_path))
    return SimpleNamespace(request=RunRequest(config_path=str(config)), path=tmp_path, preloads=preloads)


AT = pd.Timestamp("2026-01-01")
GATE_ROWS = pd.DataFrame(
    [
        ["history", "values positive", "check_a", "value", True, "", "> 0", "", AT],
        ["history", "years in range", "check_b", "year", False, "1800", ">= 1950", "fix it", AT],
    ],
    columns=gates.RESULT_COLUMNS,
)


def runs(path):
    return query_warehouse(path, "select run_id, status, message from runs")


def test_a_gate_failure_after_the_run_opened_is_recorded_with_its_gate_results(project):
    failure = GateFailed("history", [{"expectation": "history: years in range", "observed": "1800"}], None, GATE_ROWS)

    def body(request, run_id):
        settings = load_settings(request)
        record = runner.open_run(settings, request, run_id)
        assert record == runner.RunRecord(run_id) and runner.FRAME.get().opened
        raise failure

    with pytest.raises(GateFailed):
        runner.recorded(body)(project.request, "r-gate")
    row = runs(project.path).iloc[0]
    assert (row.run_id, row.status, row.message) == ("r-gate", "failed_gate", str(failure))
    stored = query_warehouse(project.path, "select * from gate_results order by check_name")
    assert stored.run_id.tolist() == ["r-gate", "r-gate"]
    assert stored.check_name.tolist() == ["check_a", "check_b"] and stored.success.tolist() == [True, False]
    assert stored.advice.tolist()[1] == "fix it" and project.preloads == [False]
    assert runner.FRAME.get() is None


def test_an_interrupted_run_is_recorded_as_interrupted(project):
    def body(request, run_id):
        runner.open_run(load_settings(request), request, run_id)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.recorded(body)(project.request, "r-int")
    row = runs(project.path).iloc[0]
    assert (row.status, row.message) == ("interrupted", "interrupted (Ctrl-C)")
    assert query_warehouse(project.path, "select count(*) as n from gate_results").n.iloc[0] == 0


def test_a_failure_before_the_run_opened_leaves_no_runs_row(project):
    def body(request, run_id):
        raise KeicastError("refused before the run row")

    with pytest.raises(KeicastError, match="refused before"):
        runner.recorded(body)(project.request, "r-early")
    db = project.path / "warehouse.duckdb"
    assert not db.exists() or runs(project.path).empty


BAD_ROW = [Problem("data/reference/x.csv", "data line 3", "2000,lots,units", "year,value,unit with a finite value")]


def test_bad_input_found_after_the_run_was_announced_says_how_the_run_stopped(project):
    """The CLI has printed "run <id>: ..." and the first stage: the error must not say that nothing was run."""

    def early(request, run_id):
        raise InputError(BAD_ROW)

    with pytest.raises(InputError) as info:
        runner.recorded(early)(project.request, "r-early")
    assert str(info.value).startswith(
        "invalid input (1 problem); run r-early stopped before it began; nothing was recorded or published:\n"
    )
    assert "nothing was run" not in str(info.value)

    def late(request, run_id):
        runner.open_run(load_settings(request), request, run_id)
        raise ConfigError(BAD_ROW)

    with pytest.raises(ConfigError) as info:
        runner.recorded(late)(project.request, "r-late")
    assert "; run r-late stopped and is recorded as failed; nothing was published:" in str(info.value)
    assert runs(project.path).set_index("run_id").message["r-late"] == str(info.value)


def test_refused_actuals_keep_their_own_words_in_a_run(project):
    def body(request, run_id):
        raise ActualsRefused(BAD_ROW)

    with pytest.raises(ActualsRefused, match=r"^actuals refused \(1 problem\); nothing was stored or changed:"):
        runner.recorded(body)(project.request, "r-actuals")


def test_a_run_that_returns_gets_a_fresh_id_when_none_is_given(project):
    seen = []

    def body(request, run_id):
        seen.append(run_id)
        return run_id

    framed = runner.recorded(body)
    assert framed.__name__ == "body"
    assert framed(project.request) == seen[0] and re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", seen[0])
