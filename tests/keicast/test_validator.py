"""Where the gates run: here when nothing was preloaded, after a preloading thread, or here again when the
validator process has died. No validator process is started in these tests."""

from concurrent.futures.process import BrokenProcessPool

import pandas as pd
import pytest

from keicast import gates, steps, validator
from keicast.config import load_settings
from keicast.history import load_history

from ..conftest import base_config, write_config


@pytest.fixture(scope="module")
def gate_inputs(tmp_path_factory):
    """The history gate's frames and parameters on the shipped reference data."""
    tmp = tmp_path_factory.mktemp("validator")
    settings = load_settings(write_config(tmp, base_config(tmp)))
    history, _ = load_history(settings.run.reference_dir)
    return history, settings, gates.parameters(settings.config), tmp / "docs"


@pytest.fixture
def fresh(monkeypatch):
    """This process as if nothing had been preloaded yet."""
    monkeypatch.setattr(validator, "_VALIDATOR", [])
    monkeypatch.setattr(validator, "_PRELOADED", [])


def results_of(frame: pd.DataFrame) -> list[tuple]:
    return list(frame.drop(columns="checked_at").itertuples(index=False, name=None))


def check(gate_inputs, history=None):
    base, settings, params, docs = gate_inputs
    frames = steps.history_gate_frames(base if history is None else history, settings)
    return validator.check("history", frames, params, docs)


def test_without_a_preload_the_gates_run_here(fresh, gate_inputs):
    results = check(gate_inputs)
    assert list(results.columns) == gates.RESULT_COLUMNS
    assert len(results) > 0 and results.success.all() and set(results.suite) == {"history", "history_spans"}
    broken = gate_inputs[0].copy()
    broken.loc[0, "value"] = -1.0
    failed = check(gate_inputs, broken)
    assert not failed.success.all() and "-1" in " ".join(failed[~failed.success].observed)


def test_after_a_preload_in_a_thread_check_returns_the_same_results(fresh, gate_inputs):
    before = results_of(check(gate_inputs))
    validator.preload()
    (thread,) = validator._PRELOADED
    assert thread.name == "keicast-gx-preload" and thread.daemon and not validator._VALIDATOR
    assert results_of(check(gate_inputs)) == before
    assert not thread.is_alive()
    validator.preload()  # once per process
    assert validator._PRELOADED == [thread]


def test_check_waits_for_the_preloading_thread(fresh, gate_inputs):
    joined = []

    class Loading:
        def join(self):
            joined.append(True)

    validator._PRELOADED.append(Loading())
    assert check(gate_inputs).success.all() and joined == [True]


def test_a_dead_validator_process_falls_back_to_this_process(fresh, gate_inputs):
    class Dead:
        def submit(self, *args, **kwargs):
            raise BrokenProcessPool("the validator died")

    validator._VALIDATOR.append(Dead())
    validator._PRELOADED.append(None)
    assert check(gate_inputs).success.all()
    assert validator._VALIDATOR == []
