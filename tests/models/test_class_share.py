import numpy as np
import pandas as pd
import pytest

from models.class_share import (
    ClassShareFit,
    buyer_price,
    japan_price_ratio,
    kei_class_share,
    kei_utility,
    leave_one_analog_out,
    logistic,
    logit,
)

US = {"us_utility": -6.3, "us_price_ratio": 0.5}
JP = {"japan_share": 1 / 3, "japan_ratio": 0.47}


def utility(r, beta=-2.0, w=0.15, **kw):
    args = {**US, **JP, **kw}
    return kei_utility(r, beta, args["us_utility"], args["us_price_ratio"], args["japan_share"], args["japan_ratio"], w)


def test_logit_inverts_logistic():
    x = np.array([0.001, 0.2, 0.5, 0.9])
    np.testing.assert_allclose(logistic(logit(x)), x)


@pytest.mark.parametrize("japan_share", [0.3095, 1 / 3, 0.4086])
def test_japanese_conditions_return_japans_share(japan_share):
    """w = 1, all buyers addressable, Japan's effective price ratio: the model gives J (the register's range)."""
    r_jp = float(japan_price_ratio(0.55, 0.15))
    u = utility(r_jp, w=1.0, japan_share=japan_share, japan_ratio=r_jp)
    assert kei_class_share(u, 1.0) == pytest.approx(japan_share, rel=1e-12)


def test_us_conditions_return_the_analogs_share():
    u = utility(US["us_price_ratio"], w=0.0)
    assert kei_class_share(u, 0.6) == pytest.approx(0.6 * logistic(US["us_utility"]))


def test_japans_share_moves_the_utility_in_proportion_to_w():
    h = 1e-6
    for w in (0.0, 0.1, 0.35):
        up = utility(0.25, w=w, japan_share=logistic(logit(1 / 3) + h))
        down = utility(0.25, w=w, japan_share=logistic(logit(1 / 3) - h))
        assert (up - down) / (2 * h) == pytest.approx(w, abs=1e-6)


def test_price_coefficient_is_the_elasticity_for_small_shares():
    """d ln s / d ln r = beta (1 - sigma) (Train 2009, ch. 3), whatever w."""
    beta, h = -2.0, 1e-6
    share = lambda r: kei_class_share(utility(r, beta, w=0.2), 0.45)  # noqa: E731
    elasticity = (np.log(share(0.3 * np.exp(h))) - np.log(share(0.3 * np.exp(-h)))) / (2 * h)
    assert elasticity == pytest.approx(beta * (1 - logistic(utility(0.3, beta, w=0.2))), rel=1e-6)


def test_share_falls_with_price_and_rises_with_w_and_with_japans_share():
    r = np.array([0.15, 0.2, 0.3, 0.5])
    assert np.all(np.diff(kei_class_share(utility(r), 0.45)) < 0)
    ws = np.array([0.0, 0.1, 0.2, 0.35])
    assert np.all(np.diff(kei_class_share(utility(0.25, w=ws), 0.45)) > 0)
    js = np.array([0.05, 0.3095, 1 / 3, 0.4086, 0.6])
    assert np.all(np.diff(kei_class_share(utility(0.25, w=0.15, japan_share=js), 0.45)) > 0)


def test_buyer_price_charges_duty_on_the_customs_value():
    # 10,000 retail, customs value 80% of it, 15% duty, 80% passed through: 10,000 * 0.8 * 0.15 * 0.8 = 960
    assert buyer_price(10_000, 1_500, 0.15, 0.8, 0.8, imported=True) == pytest.approx(12_460)
    assert buyer_price(10_000, 1_500, 0.15, 0.8, 0.8, imported=False) == pytest.approx(11_500)


def synthetic_analogs(beta=-2.5, analogs=6, years=8, noise=0.05, seed=3):
    rng = np.random.default_rng(seed)
    levels = rng.normal(-7.0, 0.8, analogs)
    rows = []
    for i, level in enumerate(levels):
        x = np.log(rng.uniform(0.3, 0.7)) + rng.normal(0, 0.15, years)  # prices move within each analog
        y = level + beta * x + rng.normal(0, noise, years)
        rows += [(f"a{i}", 2000 + j, 0.6 * logistic(y[j]), np.exp(x[j])) for j in range(years)]
    return pd.DataFrame(rows, columns=["analog", "year", "share", "price_ratio"]), levels


def test_fit_recovers_a_known_price_coefficient_and_level():
    data, levels = synthetic_analogs()
    fit = ClassShareFit(prior_mean=-1.0, prior_sd=100.0, addressable=0.6).fit(data)
    assert fit.informative_
    assert fit.beta_ == pytest.approx(-2.5, abs=0.1)
    assert fit.beta_sd_ < 0.1
    assert fit.between_sd_ == pytest.approx(np.std(levels, ddof=1), rel=0.1)
    x_bar = data.assign(x=np.log(data.price_ratio)).groupby("analog").x.mean().mean()
    assert fit.log_price_ratio_ == pytest.approx(x_bar)
    assert fit.utility_ == pytest.approx(levels.mean() - 2.5 * x_bar, abs=0.15)
    assert fit.predictive_sd_ == pytest.approx(fit.between_sd_ * np.sqrt(1 + 1 / 6))


def test_a_tight_prior_dominates_and_without_price_variation_the_prior_is_all_there_is():
    data, _ = synthetic_analogs()
    assert ClassShareFit(-1.0, 1e-4, 0.6).fit(data).beta_ == pytest.approx(-1.0, abs=1e-3)
    one_point_each = data.groupby("analog").head(1)
    fit = ClassShareFit(-2.0, 0.5, 0.6).fit(one_point_each)
    assert not fit.informative_ and np.isinf(fit.beta_within_se_)
    assert (fit.beta_, fit.beta_sd_) == (-2.0, 0.5)
    assert fit.predict(fit.price_ratio_) == pytest.approx(0.6 * logistic(fit.utility_))


def test_impossible_analog_shares_are_refused():
    data, _ = synthetic_analogs()
    with pytest.raises(ValueError):
        ClassShareFit(-2.0, 0.5, 0.001).fit(data)


def test_leave_one_analog_out_predicts_each_analog_from_the_others():
    data, levels = synthetic_analogs(analogs=5, years=4)
    fit = ClassShareFit(-2.5, 0.01, 0.6).fit(data)
    backtest = leave_one_analog_out(fit, naive_analog="a0")
    assert len(backtest) == len(data) and backtest.naive[backtest.analog == "a0"].isna().all()
    # without analog i, the prediction is the others' mean level at beta: its error is level_i - mean(others)
    first = backtest[backtest.analog == "a1"]
    others = np.delete(levels, 1).mean()
    np.testing.assert_allclose((first.observed - first.predicted).mean(), levels[1] - others, atol=0.1)
    np.testing.assert_allclose(first.sd.iloc[0], np.std(np.delete(levels, 1), ddof=1) * np.sqrt(1 + 1 / 4), rtol=0.1)
    naive = backtest[backtest.analog == "a1"].naive - backtest[backtest.analog == "a1"].observed
    np.testing.assert_allclose(naive.mean(), levels[0] - levels[1], atol=0.1)
