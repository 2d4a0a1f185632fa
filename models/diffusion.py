"""Bass diffusion, the Generalized Bass Model, and Bass calibration by nonlinear least squares.

References:
    Bass, F. M. (1969). A new product growth for model consumer durables. Management Science 15(5), 215-227.
    Bass, F. M., Krishnan, T. V., Jain, D. C. (1994). Why the Bass model fits without decision variables.
        Marketing Science 13(3), 203-223.
    Srinivasan, V., Mason, C. H. (1986). Nonlinear least squares estimation of new product diffusion models.
        Marketing Science 5(2), 169-178.
    Sultan, F., Farley, J. U., Lehmann, D. R. (1990). A meta-analysis of applications of diffusion models.
        Journal of Marketing Research 27(1), 70-77 (mean p = 0.03, q = 0.38: the defaults in data/register.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import curve_fit

FitForm = Literal["pdf", "increments"]


def bass_cdf(t: np.ndarray | float, p: np.ndarray | float, q: np.ndarray | float, xp=np) -> np.ndarray:
    """Cumulative adopted fraction F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t}); F(t<=0) = 0.

    ``xp`` is the array module (numpy, or jax.numpy inside the hierarchical model).
    """
    t = xp.maximum(xp.asarray(t, dtype=float), 0.0)
    decay = xp.exp(-(p + q) * t)
    return (1.0 - decay) / (1.0 + (q / p) * decay)


def bass_pdf(t: np.ndarray | float, p: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
    """Adoption density f(t) = dF/dt = ((p+q)^2 / p) e^{-(p+q)t} / (1 + (q/p) e^{-(p+q)t})^2."""
    t = np.asarray(t, dtype=float)
    s = np.add(p, q)
    decay = np.exp(-s * t)
    return (s**2 / p) * decay / (1.0 + np.divide(q, p) * decay) ** 2


def gbm_cdf(
    t: np.ndarray,
    p: np.ndarray | float,
    q: np.ndarray | float,
    log_price_change: np.ndarray | float = 0.0,
    price_coefficient: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Generalized Bass Model F(t) with a price path (Bass, Krishnan & Jain 1994, eq. 7).

    Time is stretched by the marketing effort X(t) = t + beta * ln(P(t) / P(0)); with a constant price the
    GBM reduces to the Bass model. ``log_price_change`` is ln(P(t)/P(0)) aligned with ``t``.
    """
    effective_time = np.asarray(t, dtype=float) + np.multiply(price_coefficient, log_price_change)
    return bass_cdf(effective_time, p, q)


ADOPTION_SHAPES = ("bass", "bass_decline", "gbm_potential", "life_cycle")


def adoption_path(t, p, q, trend=0.0, shape: str = "bass", xp=np):
    """Adoption path A(t) of the class share at years since launch ``t`` (launch year = 1; 0 before launch).

        bass            A = F(t)                            the Bass fraction as the path of the class share
        bass_decline    A = F(t) e^{trend (t - 1)}          trend = -d <= 0: the potential decays (obsolescence)
        gbm_potential   A = F(t) e^{trend (t - 1)}          trend = g of either sign: a potential that grows or
                                                            shrinks (Mahajan & Peterson 1978, dynamic potential)
        life_cycle      A = [F(t) - F(t - 1)] / peak        a nameplate's sales: Bass increments, 1 at the peak
                                                            year (continuous peak at ln(q/p) / (p + q))
    ``xp`` is the array module (numpy, or jax.numpy inside the hierarchical model).
    """
    if shape not in ADOPTION_SHAPES:
        raise ValueError(f"unknown adoption shape {shape!r}; expected one of {ADOPTION_SHAPES}")
    if shape == "life_cycle":
        peak = xp.maximum(xp.log(q / p) / (p + q), 0.5)
        top = bass_cdf(peak + 0.5, p, q, xp) - bass_cdf(peak - 0.5, p, q, xp)
        path = (bass_cdf(t, p, q, xp) - bass_cdf(t - 1.0, p, q, xp)) / top
    else:
        path = bass_cdf(t, p, q, xp)
        if shape != "bass":
            path = path * xp.exp(trend * (t - 1.0))
    return xp.where(xp.asarray(t) > 0, path, 0.0)


def annual_adoption_fraction(
    years_since_launch: np.ndarray,
    p: np.ndarray | float,
    q: np.ndarray | float,
    annual_price_change: np.ndarray | float = 0.0,
    price_coefficient: np.ndarray | float = 0.0,
    trend: np.ndarray | float = 0.0,
    shape: str = "bass",
) -> np.ndarray:
    """Adoption path in each year (:func:`adoption_path` of ``shape``) with the GBM price effect, 0 before launch.

    ``years_since_launch`` counts the launch year as 1. The price path P(t) = P(0) (1 + g)^t stretches time by
    ``price_coefficient`` ln(P(t)/P(0)) (Bass, Krishnan & Jain 1994); a constant price leaves the path as fitted.
    """
    t = np.asarray(years_since_launch, dtype=float)
    effective = t + np.multiply(price_coefficient, np.log1p(annual_price_change) * np.maximum(t, 0.0))
    return np.where(t > 0, adoption_path(np.maximum(effective, 1e-9), p, q, trend, shape), 0.0)


@dataclass
class BassFit:
    """Bass model fitted by nonlinear least squares to adoption per period.

    ``form="pdf"`` fits y_t = m f(t) at t = 1..T (the continuous-time density, as R's ``nls`` examples do);
    ``form="increments"`` fits y_t = m [F(t) - F(t-1)] (Srinivasan & Mason 1986).
    Fitted state is in the trailing-underscore attributes after :meth:`fit`.
    """

    form: FitForm = "increments"

    def _curve(self, t: np.ndarray, p: float, q: float, m: float) -> np.ndarray:
        if self.form == "pdf":
            return m * bass_pdf(t, p, q)
        return m * (bass_cdf(t, p, q) - bass_cdf(t - 1.0, p, q))

    def _multistart(
        self, t: np.ndarray, share: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Least squares from several starting points; the (params, covariance, SSR) of the smallest SSR."""
        best = None
        for p0, q0, m_mult in [(0.01, 0.3, 1.5), (0.03, 0.38, 2.0), (0.003, 0.5, 3.0), (0.05, 0.1, 1.2)]:
            try:
                params, cov = curve_fit(self._curve, t, share, p0=[p0, q0, m_mult], bounds=(lower, upper), maxfev=20000)
            except (RuntimeError, ValueError):
                continue
            ssr = float(np.sum((share - self._curve(t, *params)) ** 2))
            if best is None or ssr < best[2]:
                best = (params, cov, ssr)
        if best is None:
            raise RuntimeError("Bass calibration did not converge from any starting point")
        return best

    def fit(self, y: np.ndarray, t: np.ndarray | None = None) -> BassFit:
        """Fit p, q, m to adoptions ``y`` observed at periods ``t`` (default 1..T; gaps allowed).

        Several starting points are tried and the smallest sum of squares kept. A fit whose estimate sits on a
        search bound is reported as not converged (``at_bound_`` names the parameter).
        """
        y = np.asarray(y, dtype=float)
        if y.ndim != 1 or len(y) < 4 or not np.all(np.isfinite(y)) or np.any(y < 0) or y.sum() <= 0:
            raise ValueError("Bass calibration needs at least 4 finite, non-negative adoptions with a positive sum")
        t = np.arange(1, len(y) + 1, dtype=float) if t is None else np.asarray(t, dtype=float)
        if len(np.unique(t)) < 4:
            raise ValueError("Bass calibration needs adoptions in at least 4 distinct periods")
        # Fit to shares of the total (m in units of it): least squares on raw counts near 1e-10 or 1e-300
        # stalls at its starting point and still reports convergence; the model is linear in m, so scaling
        # back is exact.
        total = y.sum()
        share = y / total
        lower, upper = np.array([1e-6, 1e-6, 0.5]), np.array([1.0, 3.0, 1e3])
        params, cov, ssr = self._multistart(t, share, lower, upper)
        margin = 1e-4 * (upper - lower)
        at_bound = (params - lower < margin) | (upper - params < margin)
        to_counts = np.array([1.0, 1.0, total])
        se = np.sqrt(np.clip(np.diag(cov), 0, None)) * to_counts
        params = params * to_counts
        n, k = len(y), 3
        self.p_, self.q_, self.m_ = (float(v) for v in params)
        self.se_ = dict(zip(("p", "q", "m"), se.tolist(), strict=True))
        self.n_ = n
        self.df_ = n - k
        self.ssr_ = ssr * total**2  # statistics from the shares, so tiny counts do not underflow
        self.rse_ = float(total * np.sqrt(ssr / self.df_)) if self.df_ > 0 else float("nan")
        sst = float(np.sum((share - share.mean()) ** 2))
        self.r2_ = 1.0 - ssr / sst if sst > 0 else float("nan")
        self.aic_ = float(n * (np.log(ssr / n) + 2 * np.log(total)) + 2 * k) if ssr > 0 else float("-inf")
        self.at_bound_ = [name for name, hit in zip(("p", "q", "m"), at_bound, strict=True) if hit]
        self.converged_ = bool(np.all(np.isfinite(cov))) and not self.at_bound_
        self.fitted_ = self._curve(t, *params)
        return self

    def predict(self, t: np.ndarray) -> np.ndarray:
        """Adoptions per period at periods ``t`` under the fitted parameters."""
        return self._curve(np.asarray(t, dtype=float), self.p_, self.q_, self.m_)
