import numpy as np
import pytest

from models.fleet import cars_in_use, weibull_survival


def test_survival_is_one_at_sale_and_one_half_at_the_median():
    assert weibull_survival(0.0, 15, 3) == 1.0
    assert weibull_survival(15.0, 15, 3) == pytest.approx(0.5)


def test_single_cohort_decays_along_the_survival_curve():
    sales = np.zeros((1, 20))
    sales[0, 0] = 1000
    in_use = cars_in_use(sales, 10, 2)
    np.testing.assert_allclose(in_use[0], 1000 * weibull_survival(np.arange(20), 10, 2))


def test_fleet_sums_cohorts_and_takes_per_draw_lifetimes():
    sales = np.array([[100.0, 100.0, 100.0], [100.0, 100.0, 100.0]])
    in_use = cars_in_use(sales, np.array([5.0, 50.0]), 3.0)
    s = weibull_survival(np.arange(3), 5.0, 3.0)
    assert in_use[0, 2] == pytest.approx(100 * (s[0] + s[1] + s[2]))
    assert in_use[1, 2] > in_use[0, 2]
    assert np.all(in_use <= np.cumsum(sales, axis=1) + 1e-9)
