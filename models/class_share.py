"""Long-run kei class share: a binary logit inside a ceiling, as NEMS and OMEGA do for size classes.

    s = J * a * sigma(c + beta * ln(P_kei / P_avg))

J is Japan's kei share of new-car sales (the ceiling no US scenario may exceed), a is the share of US buyers
the scenario's road rules address, sigma is the logistic function, c is the kei class constant (Americans'
preference for large vehicles) and beta the price coefficient. With utility in log price, beta equals the
class's own-price elasticity when the class share is small (Train 2009, *Discrete Choice Methods with
Simulation*, ch. 3: d ln s / d ln P = beta (1 - sigma)).

The class constant is calibrated so that a past US microcar analog (the Smart ForTwo at its 2008 peak) is
reproduced at its own price ratio: c = logit(s_analog / (J a_analog)) - beta ln(r_analog).
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | float


def logistic(u: ArrayLike) -> np.ndarray:
    """The logistic function 1 / (1 + e^{-u})."""
    return 1.0 / (1.0 + np.exp(-np.asarray(u, dtype=float)))


def logit(x: ArrayLike) -> np.ndarray:
    """Inverse of :func:`logistic`: ln(x / (1 - x))."""
    x = np.asarray(x, dtype=float)
    return np.log(x / (1.0 - x))


def calibrate_class_constant(
    analog_share: ArrayLike,
    analog_price_ratio: ArrayLike,
    elasticity: ArrayLike,
    ceiling: ArrayLike,
    analog_addressable: ArrayLike,
) -> np.ndarray:
    """Class constant c that reproduces ``analog_share`` at ``analog_price_ratio``."""
    inner = np.asarray(analog_share, dtype=float) / (np.multiply(ceiling, analog_addressable))
    if np.any((inner <= 0) | (inner >= 1)):
        raise ValueError("analog share must lie strictly inside (0, ceiling x addressable share)")
    return logit(inner) - np.multiply(elasticity, np.log(analog_price_ratio))


def kei_class_share(
    price_ratio: ArrayLike,
    elasticity: ArrayLike,
    class_constant: ArrayLike,
    ceiling: ArrayLike,
    addressable: ArrayLike,
) -> np.ndarray:
    """Long-run kei share of new-vehicle sales, always below ``ceiling`` (Japan's kei share)."""
    utility = np.add(class_constant, np.multiply(elasticity, np.log(price_ratio)))
    return np.multiply(np.multiply(ceiling, addressable), logistic(utility))


def buyer_price(
    base_price: ArrayLike,
    compliance_cost: ArrayLike,
    tariff: ArrayLike,
    pass_through: ArrayLike,
    imported: bool,
) -> np.ndarray:
    """Price the US buyer pays: vehicle price plus the passed-through tariff (imports only) plus compliance."""
    duty = np.multiply(np.multiply(base_price, tariff), pass_through) if imported else 0.0
    return np.asarray(base_price, dtype=float) + duty + np.asarray(compliance_cost, dtype=float)
