"""The adoption calibration: its disk cache, the assumption rows and joint draws it yields, the Smart replay."""

import numpy as np
import pytest

from keicast.assumptions import assemble, scenario_spec
from keicast.calibration import (
    POSTERIOR_KEYS,
    adoption_refinements,
    analog_frame,
    fit_adoption,
    replay_smart,
)
from keicast.config import load_settings
from keicast.evidence import load_history

from .conftest import base_config, write_config

SMART_2008_2014 = 24_622 + 14_595 + 5_927 + 5_208 + 10_009 + 9_264 + 10_453


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Settings of the shipped config (its sampler and cache), the history and the default fit."""
    tmp = tmp_path_factory.mktemp("calibration")
    settings = load_settings(write_config(tmp, base_config(tmp)))
    history, _ = load_history(settings.run.reference_dir)
    cal = settings.config.calibration
    frame = analog_frame(history, cal.analogs, settings.config.baseline.series)
    return settings, history, fit_adoption(frame, cal.analogs, cal)


def test_a_fit_is_cached_on_disk_by_its_data_and_settings(shipped, tmp_path):
    settings, history, _ = shipped
    cal = settings.config.calibration.model_copy(update={"cache_dir": tmp_path, "warmup": 30, "samples": 30})
    names = cal.analogs[:2]
    frame = analog_frame(history, names, settings.config.baseline.series)
    first = fit_adoption(frame, names, cal)
    folders = sorted(p.name for p in tmp_path.iterdir() if p.name != "jax")
    again = fit_adoption(frame, names, cal)
    assert again.population.equals(first.population) and again.diagnostics == first.diagnostics
    fit_adoption(frame.assign(sales=frame.sales * 1.01), names, cal)  # new data: a new entry
    assert len([p for p in tmp_path.iterdir() if p.name != "jax"]) == len(folders) + 1


def test_calibrated_adoption_keys_are_drawn_jointly_unless_overridden(shipped, tmp_path):
    settings, _, fit = shipped
    overridden = load_settings(write_config(tmp_path, base_config(tmp_path)), sets=["adoption.bass_p=0.05"])
    table = assemble(
        settings.register,
        settings.config,
        ("status_quo",),
        overridden.overrides,
        adoption_refinements(fit, settings.register),
    )
    rows = table.set_index("key")
    assert rows.loc["adoption.bass_q", "override_origin"] == "calibration"
    assert rows.loc["adoption.bass_p", "value"] == 0.05
    spec = scenario_spec("status_quo", settings.config, table, fit)
    assert set(spec.adoption_draws.columns) == set(POSTERIOR_KEYS) - {"adoption.bass_p"}
    assert len(spec.adoption_draws) == len(fit.population)
    q = rows.loc["adoption.bass_q"]
    assert q.low <= q.value <= q.high and q.value == pytest.approx(np.median(fit.population.q))


def test_replaying_the_smart_fortwo_through_the_kernel_lands_within_50_percent_of_its_sales(shipped):
    """2008-2014 cumulative P50 within +/-50% of the 80,078 sold. The long-run share at the Smart's own price
    and access is, by the class-share calibration on this branch, analog.smart_peak_share (0.06-0.19%)."""
    settings, history, fit = shipped
    replay = replay_smart(fit, settings.register, history, settings.config.baseline.series, draws=20_000)
    cumulative = replay[(replay.metric == "kei_sales_cumulative") & (replay.year == 2014)].iloc[0]
    assert 0.5 * SMART_2008_2014 <= cumulative.p50 <= 1.5 * SMART_2008_2014, cumulative
    assert cumulative.p10 < SMART_2008_2014 < cumulative.p90
