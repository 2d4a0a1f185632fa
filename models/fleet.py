"""Kei cars in use: sales cohorts times a Weibull survival (scrappage) curve.

The survival of a car of age a is S(a) = exp(-(a / lambda)^k) with lambda = median / (ln 2)^(1/k), so that
S(median) = 1/2. Weibull survival is a common form for vehicle scrappage (e.g. Lu 2006, *Vehicle Survivability
and Travel Mileage Schedules*, NHTSA DOT HS 809 952, fits logistic-like S-curves of the same shape).
"""

from __future__ import annotations

import numpy as np


def weibull_survival(age: np.ndarray, median_life: np.ndarray | float, shape: np.ndarray | float) -> np.ndarray:
    """Share of a cohort still in use at ``age`` years (age 0 = year of sale, S = 1)."""
    scale = np.divide(median_life, np.log(2.0) ** np.divide(1.0, shape))
    return np.exp(-((np.asarray(age, dtype=float) / scale) ** shape))


def cars_in_use(sales: np.ndarray, median_life: np.ndarray | float, shape: np.ndarray | float) -> np.ndarray:
    """Fleet at each year's end from sales by year: in_use[t] = sum_v sales[v] * S(t - v).

    ``sales`` is (draws, years); ``median_life`` and ``shape`` are scalars or (draws,) arrays.
    Only cohorts sold inside the horizon are counted.
    """
    sales = np.atleast_2d(sales)
    n_years = sales.shape[1]
    median_life = np.reshape(np.asarray(median_life, dtype=float), (-1, 1))
    shape = np.reshape(np.asarray(shape, dtype=float), (-1, 1))
    survival = weibull_survival(np.arange(n_years, dtype=float)[None, :], median_life, shape)
    in_use = np.zeros_like(sales, dtype=float)
    for age in range(n_years):
        in_use[:, age:] += sales[:, : n_years - age] * survival[:, age : age + 1]
    return in_use
