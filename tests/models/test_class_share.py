import numpy as np
import pytest

from models.class_share import buyer_price, calibrate_class_constant, kei_class_share, logistic, logit


def test_logit_inverts_logistic():
    x = np.array([0.001, 0.2, 0.5, 0.9])
    np.testing.assert_allclose(logistic(logit(x)), x)


def test_calibrated_constant_reproduces_the_analog():
    c = calibrate_class_constant(0.001866, 0.41, -2.0, 1 / 3, 0.6)
    assert kei_class_share(0.41, -2.0, c, 1 / 3, 0.6) == pytest.approx(0.001866)


def test_share_never_exceeds_the_ceiling_even_at_a_tiny_price():
    s = kei_class_share(np.array([1e-6, 0.01, 0.2]), -3.5, 5.0, 0.3333, 1.0)
    assert np.all(s <= 0.3333)


def test_price_coefficient_is_the_elasticity_for_small_shares():
    """d ln s / d ln P = beta (1 - sigma) (Train 2009, ch. 3)."""
    beta, c = -2.0, -6.0
    share = lambda r: kei_class_share(r, beta, c, 1 / 3, 0.5)  # noqa: E731
    h = 1e-6
    elasticity = (np.log(share(0.3 * np.exp(h))) - np.log(share(0.3 * np.exp(-h)))) / (2 * h)
    sigma = logistic(c + beta * np.log(0.3))
    assert elasticity == pytest.approx(beta * (1 - sigma), rel=1e-6)


def test_buyer_price_known_answer():
    assert buyer_price(10_000, 1_500, 0.25, 0.8, imported=True) == pytest.approx(13_500)
    assert buyer_price(10_000, 1_500, 0.25, 0.8, imported=False) == pytest.approx(11_500)


def test_cheaper_kei_sells_more():
    c = calibrate_class_constant(0.001866, 0.41, -2.0, 1 / 3, 0.6)
    assert kei_class_share(0.2, -2.0, c, 1 / 3, 0.6) > kei_class_share(0.3, -2.0, c, 1 / 3, 0.6)


def test_impossible_analog_is_refused():
    with pytest.raises(ValueError):
        calibrate_class_constant(0.5, 0.41, -2.0, 1 / 3, 0.6)
