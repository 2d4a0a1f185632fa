"""The status quo: grey imports of 25-year-old kei trucks and cars, calibrated to the reported import counts.

Imports per year follow a logistic curve toward a ceiling K that passes exactly through two reported counts
(t_1, n_1) and (t_2, n_2):

    F(t) = K sigma(g (t - t_m)),   g = [logit(n_2 / K) - logit(n_1 / K)] / (t_2 - t_1),   t_m = t_2 - logit(n_2 / K) / g

with K = n_2 (1 + h); the headroom h above the latest count is judgement (state restrictions and the pool of
cheap trucks cap growth). From the first forecast year on, the flow is scaled by the change in road access and in
the buyer's price since the counts were taken:

    F_t = F(t) (S / S_0) (P / P_0)^beta,   P = p_used (1 + pass_through * tariff * c),   P_0 the same at tariff_0

S is the number of states where kei vehicles are road-legal over the horizon and S_0 when the counts were made,
c the customs value over the retail price (duty is paid on the customs value), tariff_0 the duty of the count
years and beta the class price coefficient (the elasticity of a small share). A vehicle is eligible in year t if
its model year is <= t - 25 (policy.import_age_rule_years), so imports arrive 25 or more years old; in the fleet
they survive by years since import with their own (remaining-life) Weibull curve.
"""

from __future__ import annotations

import numpy as np

from models.class_share import logistic, logit

ArrayLike = np.ndarray | float


def logistic_through(
    years: np.ndarray, early: tuple[float, ArrayLike], latest: tuple[float, ArrayLike], headroom: ArrayLike
) -> np.ndarray:
    """F(t) for each draw (rows) and year (columns): the logistic through both counts with K = n_2 (1 + h)."""
    (t1, n1), (t2, n2) = early, latest
    n1, n2, h = (np.reshape(np.asarray(v, dtype=float), (-1, 1)) for v in (n1, n2, headroom))
    if np.any(h <= 0) or np.any(n1 >= n2) or t2 <= t1:
        raise ValueError("grey-import calibration needs rising counts (n_1 < n_2, t_1 < t_2) and headroom > 0")
    ceiling = n2 * (1.0 + h)
    rate = (logit(n2 / ceiling) - logit(n1 / ceiling)) / (t2 - t1)
    midpoint = t2 - logit(n2 / ceiling) / rate
    return ceiling * logistic(rate * (np.asarray(years, dtype=float)[None, :] - midpoint))


def grey_buyer_price(used_price: ArrayLike, tariff: ArrayLike, pass_through: ArrayLike, customs_ratio: ArrayLike):
    """Price of a grey import to its US buyer: the used price plus the passed-through duty on its customs value."""
    return np.multiply(used_price, 1.0 + np.multiply(np.multiply(pass_through, tariff), customs_ratio))


def grey_imports(
    years: np.ndarray,
    early: tuple[float, ArrayLike],
    latest: tuple[float, ArrayLike],
    headroom: ArrayLike,
    access_ratio: ArrayLike,
    price_ratio: ArrayLike,
    elasticity: ArrayLike,
    first_forecast_year: int,
) -> np.ndarray:
    """Grey imports per draw and year: the calibrated curve, scaled by S/S_0 and (P/P_0)^beta from the forecast on."""
    flow = logistic_through(years, early, latest, headroom)
    scale = np.reshape(np.multiply(access_ratio, np.power(price_ratio, elasticity)), (-1, 1))
    return np.where(np.asarray(years)[None, :] >= first_forecast_year, flow * scale, flow)
