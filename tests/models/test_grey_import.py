import numpy as np
import pytest

from models.grey_import import grey_buyer_price, grey_imports, logistic_through

YEARS = np.arange(2005, 2041)


def test_logistic_passes_through_both_counts_and_stays_below_its_ceiling():
    headroom = np.array([0.05, 0.3, 1.0])
    flow = logistic_through(YEARS, (2018, 1800), (2023, 7594), headroom)
    at = lambda year: flow[:, year - YEARS[0]]  # noqa: E731
    np.testing.assert_allclose(at(2018), 1800, rtol=1e-10)
    np.testing.assert_allclose(at(2023), 7594, rtol=1e-10)
    assert np.all(np.diff(flow, axis=1) > 0)
    assert np.all(flow < 7594 * (1 + headroom)[:, None])
    assert np.all(at(2040) > 7594)


def test_a_higher_ceiling_keeps_growing_longer():
    low, high = logistic_through(YEARS, (2018, 1800), (2023, 7594), np.array([0.1, 0.8]))[:, 2030 - YEARS[0]]
    assert low < high


def test_forecast_years_scale_with_road_access_and_price():
    base = logistic_through(YEARS, (2018, 1800), (2023, 7594), 0.3)
    flow = grey_imports(YEARS, (2018, 1800), (2023, 7594), 0.3, 20 / 19, 1.05, -2.0, first_forecast_year=2024)
    past, future = YEARS < 2024, YEARS >= 2024
    np.testing.assert_allclose(flow[:, past], base[:, past])
    np.testing.assert_allclose(flow[:, future], base[:, future] * 20 / 19 * 1.05**-2.0)


def test_grey_buyer_price_pays_duty_on_the_customs_value():
    assert grey_buyer_price(3800, 0.15, 0.8, 0.5) == pytest.approx(3800 * (1 + 0.8 * 0.15 * 0.5))


@pytest.mark.parametrize(
    "early,latest,headroom", [((2018, 1800), (2023, 7594), 0.0), ((2018, 8000), (2023, 7594), 0.3)]
)
def test_a_curve_that_cannot_pass_through_the_counts_is_refused(early, latest, headroom):
    with pytest.raises(ValueError):
        logistic_through(YEARS, early, latest, headroom)
