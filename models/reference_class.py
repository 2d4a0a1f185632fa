"""The outside view: a new vehicle class's share of its market, positioned in a reference class of past launches
by what was known before each launch (kind, market, how motorised the market was, price, whether a policy created
the class).

The log share of launch i (family f) in its t-th calendar year on sale (t = year - launch year + 1) is a
hierarchical linear model (hierarchical priors from product covariates, as in Lee, Boatwright & Kamakura 2003,
*Marketing Science* 22(3), with the launch's level as the parameter the covariates position):

    y_it = x_i' b  +  g_i(t)' c  +  a_f  +  e_i  +  s_i ln t  +  u_it
    a_f ~ N(0, tau_f^2)     family effect (launches of one family share their market's quirks)
    e_i ~ N(0, tau_l^2)     launch effect
    s_i ~ N(0, tau_s,k^2)   the launch's own slope in ln t (some launches take off, others fade), its sd by what the
                            launch is, k: one maker's nameplate, or an aggregate (a class or a powertrain: many makers'
                            nameplates together, whose own rises and fades partly cancel, so its path varies less;
                            an analyst's rationale, added after the past launches' own slopes were seen)
    u_it = phi u_i,t-1 + sigma eta_it,  u_i0 = 0   yearly deviations, starting at zero at launch (models.ar1)

with x_i = (1, us_market, policy_created, technology, ln(price_ratio / 0.5), price_unknown, motorising)
(price_unknown = 1 and the log ratio 0 where no price is sourced; motorising = 1 where the launch market had fewer
than 300 motor vehicles per 1,000 people, a market still motorising: car ownership rises along an S-curve in
income and saturates at several hundred per 1,000, Dargay, Gately & Sommer 2007, *Energy Journal* 28(4), so a cheap
car there can sell to first-time buyers; an analyst's rationale, and in this class a Korea/China/India dummy) and
the shape g(t) one of

    level                 g = ()                                  one level, up to the launch's own slope
    rise                  g = (ln t, technology ln t)             rises (or falls) and keeps going; a powertrain
                                                                  (technology) has its own rise
    rise_peak_decline     g = (ln t, technology ln t, t - 1)      the log of a gamma kernel t^c1 e^(c2 (t - 1)):
                                                                  rises, peaks at t = -c1 / c2, declines (c1 > 0 > c2)

The coefficients (b, c) have a Gaussian prior N(m, S0) (the price slope's mean is the literature elasticity), so the
marginal law of the stacked log shares is Gaussian, y ~ N(X m, V(theta) + X S0 X'), with V the family, launch, slope
and AR(1) covariance. theta = (tau_f, tau_l, tau_s,nameplate, tau_s,aggregate, sigma, phi) is set at its posterior
mode under weak priors (type-II maximum a posteriori; lognormal on the five sds, Beta(2, 2) on phi), and given
theta the coefficients' posterior is exact (conjugate Gaussian; Gelman et al. 2013, *BDA3* §14.2):

    S = (S0^-1 + X' V^-1 X)^-1,   b_hat = S (S0^-1 m + X' V^-1 y).

A new launch in a new family has the predictive law y_t ~ N(x_t' b_hat, x_s' S x_t + tau_f^2 + tau_l^2 +
tau_s,k^2 ln s ln t + sigma^2 R_st), R_st = phi^|t-s| (1 - phi^(2 min(s, t))) / (1 - phi^2) (the AR(1) started at zero):
the level of demand is one uncertain quantity, counted once. After k years on sale the same joint Gaussian
conditioned on them is the post-launch forecast. The hyperparameters' own uncertainty is not propagated (empirical
Bayes); :attr:`ReferenceFit.converged` says whether their optimiser converged inside its bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

COVARIATES = ("us_market", "policy_created", "technology", "log_price_ratio", "price_unknown", "motorising")
LAUNCH_KEYS = (*COVARIATES, "aggregate")  # what a launch carries: the covariates, and whether its slope is a class's
MOTORISING_BELOW = 300.0  # motor vehicles per 1,000 people under which a market is still motorising
SHAPES: dict[str, tuple[str, ...]] = {
    "level": (),
    "rise": ("log_t", "technology_log_t"),
    "rise_peak_decline": ("log_t", "technology_log_t", "years_on"),
}
REFERENCE_PRICE_RATIO = 0.5  # log_price_ratio is ln(price / market average / 0.5): zero at a half-price car
# Prior means and sds of the coefficients, by column. Weak on the level (a launch's share spans 1e-5 to 0.1) and
# the covariates; the price slope's prior is the literature price elasticity (demand.price_elasticity, -2 with a
# sd of 1); the shape terms near zero with sd 1 (a doubling of years on sale moves the share by e^+-0.7).
PRIOR_MEAN = {"const": -6.0, "log_price_ratio": -2.0}
PRIOR_SD = {
    "const": 3.0,
    "us_market": 2.0,
    "policy_created": 2.0,
    "technology": 2.0,
    "log_price_ratio": 1.0,
    "price_unknown": 2.0,
    "motorising": 2.0,
}
SHAPE_PRIOR_SD = 1.0
SD_PRIOR = (np.log(0.5), 1.5)  # lognormal prior (log median, log sd) of the five sds
PARTS = ("family_sd", "launch_sd", "slope_sd", "aggregate_slope_sd", "deviation_sd", "deviation_ar")  # theta, in order


@dataclass(frozen=True)
class ReferenceFit:
    """The fitted reference class: coefficient posterior (columns, mean, covariance) and the variance parts."""

    shape: str
    columns: tuple[str, ...]
    coefficients: np.ndarray
    covariance: np.ndarray
    family_sd: float
    launch_sd: float
    slope_sd: float  # a nameplate's
    aggregate_slope_sd: float  # a class's or a powertrain's
    deviation_sd: float
    deviation_ar: float
    launches: int
    families: int
    observations: int
    converged: bool = True  # the hyperparameters' optimiser converged, none of them at a bound

    @property
    def effect_sd(self) -> float:
        """The sd of a new launch's own level (family and launch effects together)."""
        return float(np.hypot(self.family_sd, self.launch_sd))

    def launch_slope_sd(self, launch: Mapping[str, float]) -> float:
        """The sd of a new launch's own slope in ln t: an aggregate's or a nameplate's."""
        return self.aggregate_slope_sd if launch["aggregate"] else self.slope_sd

    def table(self) -> pd.DataFrame:
        """One row per coefficient and variance part: name, mean, sd."""
        sd = np.sqrt(np.diag(self.covariance))
        rows = [(c, float(m), float(s)) for c, m, s in zip(self.columns, self.coefficients, sd, strict=True)]
        rows += [(name, getattr(self, name), 0.0) for name in PARTS]
        rows.append(("converged", float(self.converged), 0.0))
        return pd.DataFrame(rows, columns=["parameter", "mean", "sd"])


def columns(shape: str) -> tuple[str, ...]:
    """The design's columns for ``shape``: constant, covariates, shape terms."""
    if shape not in SHAPES:
        raise ValueError(f"unknown reference-class shape {shape!r}; one of {', '.join(SHAPES)}")
    return ("const", *COVARIATES, *SHAPES[shape])


def covariates(
    kind: str, policy_created: bool, price_ratio: float | None, country: str, vehicles_per_1000: float
) -> dict[str, float]:
    """A launch's covariate values from what was known before it launched (price ratio None: not known;
    ``vehicles_per_1000``: motor vehicles in use per 1,000 people in its market in its launch year)."""
    known = price_ratio is not None and np.isfinite(price_ratio) and price_ratio > 0
    return {
        "us_market": float(country == "US"),
        "policy_created": float(bool(policy_created)),
        "technology": float(kind == "technology"),
        "log_price_ratio": float(np.log(price_ratio / REFERENCE_PRICE_RATIO)) if known else 0.0,
        "price_unknown": 0.0 if known else 1.0,
        "motorising": float(vehicles_per_1000 < MOTORISING_BELOW),
        "aggregate": float(kind != "nameplate"),
    }


def design(frame: pd.DataFrame, shape: str) -> np.ndarray:
    """Design matrix of ``frame`` (covariate columns and ``t``, years on sale from 1) for ``shape``."""
    t = frame["t"].to_numpy(float)
    technology = frame["technology"].to_numpy(float)
    terms = {"const": np.ones(len(frame)), "log_t": np.log(t), "technology_log_t": technology * np.log(t)}
    terms["years_on"] = t - 1.0
    return np.column_stack([terms[c] if c in terms else frame[c].to_numpy(float) for c in columns(shape)])


def deviation_correlation(t_a: np.ndarray, t_b: np.ndarray, phi: float) -> np.ndarray:
    """Cov(u_s, u_t) / sigma^2 of the AR(1) started at zero: phi^|t-s| (1 - phi^(2 min(s, t))) / (1 - phi^2)."""
    s, t = np.asarray(t_a, float)[:, None], np.asarray(t_b, float)[None, :]
    return phi ** np.abs(t - s) * (1 - phi ** (2 * np.minimum(s, t))) / (1 - phi**2)


@dataclass(frozen=True)
class _Groups:
    """What the covariance needs of the stacked rows: same-family and same-launch masks, years on sale, and whether
    each row's launch is an aggregate."""

    same_family: np.ndarray
    same_launch: np.ndarray
    t: np.ndarray
    aggregate: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Groups:
        family, launch = frame["family"].to_numpy(), frame["launch"].to_numpy()
        same_launch = launch[:, None] == launch[None, :]
        aggregate = frame["aggregate"].to_numpy(float) > 0
        return cls(family[:, None] == family[None, :], same_launch, frame["t"].to_numpy(float), aggregate)

    def covariance(self, theta: np.ndarray) -> np.ndarray:
        tau_f, tau_l, tau_s, tau_a, sigma, phi = theta
        slope = np.where(self.aggregate, tau_a, tau_s) * np.log(self.t)
        within = tau_l**2 + np.outer(slope, slope)
        within = within + sigma**2 * deviation_correlation(self.t, self.t, phi)
        return tau_f**2 * self.same_family + np.where(self.same_launch, within, 0.0)


def _prior(shape: str) -> tuple[np.ndarray, np.ndarray]:
    names = columns(shape)
    mean = np.array([PRIOR_MEAN.get(c, 0.0) for c in names])
    sd = np.array([PRIOR_SD.get(c, SHAPE_PRIOR_SD) for c in names])
    return mean, np.diag(sd**2)


def _theta(z: np.ndarray) -> np.ndarray:
    return np.array([*np.exp(z[:5]), 1.0 / (1.0 + np.exp(-z[5]))])


def _negative_log_posterior(z: np.ndarray, groups: _Groups, x: np.ndarray, y: np.ndarray, prior) -> float:
    theta = _theta(z)
    mean, s0 = prior
    cov = groups.covariance(theta) + x @ s0 @ x.T
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return 1e12
    r = np.linalg.solve(chol, y - x @ mean)
    loglik = -0.5 * (r @ r) - np.log(np.diag(chol)).sum()
    sd_prior = -0.5 * (((z[:5] - SD_PRIOR[0]) / SD_PRIOR[1]) ** 2).sum()
    phi_prior = np.log(theta[5]) + np.log1p(-theta[5])  # Beta(2, 2), with the logit's Jacobian: phi^2 (1 - phi)^2
    return -(loglik + sd_prior + 2 * phi_prior)


def fit(frame: pd.DataFrame, shape: str) -> ReferenceFit:
    """Fit the reference class: ``frame`` has one row per launch and full year on sale (launch, family, t,
    log_share and the covariates of :func:`covariates`)."""
    x, y = design(frame, shape), frame["log_share"].to_numpy(float)
    prior, groups = _prior(shape), _Groups.of(frame)
    start = np.array([np.log(0.8), np.log(0.5), np.log(0.3), np.log(0.3), np.log(0.3), 1.0])
    bounds = [(-7, 3)] * 5 + [(-5, 5)]
    result = optimize.minimize(
        _negative_log_posterior, start, args=(groups, x, y, prior), method="L-BFGS-B", bounds=bounds
    )
    inside = all(low + 1e-3 < z < high - 1e-3 for z, (low, high) in zip(result.x, bounds, strict=True))
    theta = _theta(result.x)
    v_inv = np.linalg.inv(groups.covariance(theta))
    s0_inv = np.linalg.inv(prior[1])
    covariance = np.linalg.inv(s0_inv + x.T @ v_inv @ x)
    coefficients = covariance @ (s0_inv @ prior[0] + x.T @ v_inv @ y)
    return ReferenceFit(
        shape=shape,
        columns=columns(shape),
        coefficients=coefficients,
        covariance=(covariance + covariance.T) / 2,
        **{part: float(value) for part, value in zip(PARTS, theta, strict=True)},
        launches=int(frame["launch"].nunique()),
        families=int(frame["family"].nunique()),
        observations=len(frame),
        converged=bool(result.success and inside and np.isfinite(result.fun) and result.fun < 1e11),
    )


def _new_launch(fit: ReferenceFit, launch: Mapping[str, float], t: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({**{c: float(launch[c]) for c in LAUNCH_KEYS}, "t": np.asarray(t, float)})


def predictive(fit: ReferenceFit, launch: Mapping[str, float], t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a new launch's log shares at years on sale ``t`` (a new family: no data of its own).

    ``launch`` maps each of LAUNCH_KEYS to its value (:func:`covariates`).
    """
    x = design(_new_launch(fit, launch, t), fit.shape)
    cov = (
        x @ fit.covariance @ x.T
        + fit.effect_sd**2
        + fit.launch_slope_sd(launch) ** 2 * np.outer(np.log(t), np.log(t))
        + fit.deviation_sd**2 * deviation_correlation(t, t, fit.deviation_ar)
    )
    return x @ fit.coefficients, (cov + cov.T) / 2


def conditioned(
    fit: ReferenceFit, launch: Mapping[str, float], t_seen: np.ndarray, y_seen: np.ndarray, t_next: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of log shares at ``t_next`` given the launch's own first years (``t_seen``, ``y_seen``):
    the joint predictive conditioned by the Gaussian formulas, the post-launch forecast."""
    t_all = np.r_[np.asarray(t_seen, float), np.asarray(t_next, float)]
    mean, cov = predictive(fit, launch, t_all)
    k = len(t_seen)
    gain = np.linalg.solve(cov[:k, :k], cov[:k, k:]).T
    next_mean = mean[k:] + gain @ (np.asarray(y_seen, float) - mean[:k])
    next_cov = cov[k:, k:] - gain @ cov[:k, k:]
    return next_mean, (next_cov + next_cov.T) / 2


def sample(mean: np.ndarray, cov: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
    """Draws (draws, years) of a Gaussian log-share path."""
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(len(mean)))
    return mean[None, :] + rng.standard_normal((draws, len(mean))) @ chol.T


def parameter_draws(fit: ReferenceFit, launch: Mapping[str, float], rng: np.random.Generator, draws: int):
    """Joint draws of what the Monte Carlo needs for a new launch with ``launch``'s covariates (price aside):

    level (ln share at t = 1 at the reference price ratio, with the launch's own effect), price_slope, rise (ln t),
    decline (t - 1): a frame of ``draws`` rows. The price term is left to the kernel, which knows each draw's price.
    """
    coefficients = rng.multivariate_normal(fit.coefficients, fit.covariance, size=draws, method="cholesky")
    by_name = dict(zip(fit.columns, coefficients.T, strict=True))
    fixed = {**{c: float(launch[c]) for c in LAUNCH_KEYS}, "log_price_ratio": 0.0}
    level = by_name["const"] + sum(by_name[c] * fixed[c] for c in COVARIATES)
    zero = np.zeros(draws)
    return pd.DataFrame(
        {
            "level": level + fit.effect_sd * rng.standard_normal(draws),
            "price_slope": by_name["log_price_ratio"],
            "rise": by_name.get("log_t", zero)
            + fixed["technology"] * by_name.get("technology_log_t", zero)
            + fit.launch_slope_sd(launch) * rng.standard_normal(draws),
            "decline": by_name.get("years_on", zero),
        }
    )


def log_share_path(level, price_slope, rise, decline, log_price_ratio, t: np.ndarray) -> np.ndarray:
    """The kernel's mean log share at years on sale ``t`` >= 1 (draws broadcast against (draws, 1))."""
    return level + price_slope * log_price_ratio + rise * np.log(t) + decline * (t - 1.0)
