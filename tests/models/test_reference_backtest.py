"""models.reference_backtest: the sharpness measure, the benchmarks' weights, and family hold-outs on synthetic
launches drawn from the model (so the chain's 80% intervals should cover about 80%)."""

import numpy as np
import pandas as pd
import pytest

from models import reference_backtest as rb

from .test_reference_class import synthetic


def test_interval_ratio_is_the_median_yearly_p90_over_p10():
    rng = np.random.default_rng(0)
    sd = np.array([0.5, 1.0, 2.0])
    samples = np.exp(rng.standard_normal((200_000, 3)) * sd)
    assert rb.interval_ratio(samples) == pytest.approx(np.exp(2 * 1.2816 * 1.0), rel=0.02)  # the middle year


def test_every_family_weighs_the_same_in_the_benchmarks():
    others = pd.DataFrame(
        {"launch": ["a", "a", "b", "c"], "family": ["F", "F", "F", "G"], "t": [1, 2, 1, 1],
         "log_share": [np.log(0.01), np.log(0.02), np.log(0.04), np.log(0.001)]}
    )  # fmt: skip
    weights = rb._family_weights(others)
    assert weights.to_dict() == {"a": 0.25, "b": 0.25, "c": 0.5}
    point, samples = rb.naive_pre_launch(others, np.array([1.0, 2.0]), np.array([1e6, 1e6]), np.random.default_rng(0))
    pooled = 0.25 * (np.log(0.01) + np.log(0.02)) / 2 + 0.25 * np.log(0.04) + 0.5 * np.log(0.001)  # a: 2 rows
    assert point[0] == pytest.approx(np.exp(pooled) * 1e6)
    point, samples = rb.reference_benchmark(
        others, np.array([1.0, 2.0]), np.array([1e6, 1e6]), np.random.default_rng(0)
    )
    assert set(np.round(samples[:, 0])) == {10_000, 40_000, 1_000}  # each draw one launch's own share
    assert np.mean(np.round(samples[:, 0]) == 1_000) == pytest.approx(0.5, abs=0.03)


@pytest.fixture(scope="module")
def cases():
    rows = synthetic(3, families=10, per_family=2, years=7)
    rows = rows.assign(market_units=1e6, units=np.exp(rows.log_share) * 1e6, year=rows.t + 2000)
    return rb.backtest(rows, "rise_peak_decline", seed=0)


def test_family_hold_outs_score_every_launch_with_both_benchmarks(cases):
    table, bands = cases
    assert list(table.columns) == rb.COLUMNS
    pre = table[table["mode"] == "pre_launch"]
    assert pre.groupby("model").size().to_dict() == {"chain": 20, "naive": 20, "reference_class": 20}
    assert pre.family.nunique() == 10 and (table.interval_ratio_80 >= 1).all()
    post = table[table["mode"] == "post_launch"]
    assert set(post.fit_years) == {3, 4} and set(post.model) == {"chain", "naive"}
    assert set(bands["mode"]) == {"pre_launch", "post_launch"}


def test_the_chain_is_calibrated_on_launches_from_its_own_model(cases):
    summary = rb.summarise(cases[0]).set_index(["mode", "model"])
    assert 0.6 <= summary.coverage_80[("pre_launch", "chain")] <= 0.97
    assert summary.median_crps[("pre_launch", "chain")] <= summary.median_crps[("pre_launch", "naive")]


def test_the_sharpness_floor_of_lognormal_errors_is_a_calibrated_bands_ratio():
    errors = np.random.default_rng(1).standard_normal(400_000) * 1.5
    assert rb.sharpness_floor(errors, 0.8) == pytest.approx(np.exp(2 * 1.2816 * 1.5), rel=0.02)
    assert rb.centred_coverage(errors, np.exp(2 * 1.2816 * 1.5)) == pytest.approx(0.8, abs=0.005)
    assert rb.centred_coverage(np.array([0.1, -0.1, 2.0, -3.0]), 20.0) == 0.5  # ln 20 / 2 = 1.50
