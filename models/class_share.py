"""Long-run kei class share: a binary logit anchored at both ends, the US small-car analogs and Japan.

Among the buyers a scenario's road rules address (share a), the kei class is chosen with probability sigma(u):

    s    = a * sigma(u)
    u    = (1 - w) * u_US + w * u_JP
    u_US = U_a + beta * ln(r / r_a)          US small-car analogs: utility U_a at their price ratio r_a
    u_JP = logit(J) + beta * ln(r / r_JP)    Japan: kei share J at its effective kei price ratio r_JP

sigma is the logistic function, r the kei buyer price over the average new-vehicle price and beta the price
coefficient (with utility in log price, the class's own-price elasticity while its share is small: d ln s / d ln r
= beta (1 - sigma); Train 2009, *Discrete Choice Methods with Simulation*, ch. 3). w in [0, 1] is the share of
Japan's non-price advantage (kei tax and parking rules, narrow roads, taste) that a US scenario reproduces.
At w = 0 and r = r_a the model returns the analogs' share a_a sigma(U_a); at w = 1, a = 1 and r = r_JP it returns
J. Japan's share moves a US forecast exactly in proportion to w (d u / d logit J = w): the data fix both anchors,
the scenario says how far it sits between them.

Japan's effective ratio r_JP = (kei price / average price) (1 - v), where v is the kei's ownership advantage (tax,
insurance, inspection) expressed as a fraction of its price.

The analog fit (:class:`ClassShareFit`) estimates beta and U_a from US analogs i in years j, with an analog
effect kappa_i for product and brand (a MINI is not a Smart):

    y_ij = logit(s_ij / a_a) = kappa_i + beta ln r_ij + e_ij

beta is identified only by price changes within an analog (across analogs, price moves with quality, which the
effects absorb). The within (fixed-effects) estimate is combined with the literature's prior N(beta_0, sd_0^2) by
precision weighting (the conjugate normal update; Gelman et al. 2013, *Bayesian Data Analysis*, 3e, 2.5). Then
U_a = mean_i [ybar_i - beta (xbar_i - xbar)] at r_a = exp(xbar), and a new US class draws its level from the
analogs' spread: U ~ N(U_a, tau^2 (1 + 1/m)), tau the between-analog standard deviation of kappa_i, m analogs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ArrayLike = np.ndarray | float


def logistic(u: ArrayLike) -> np.ndarray:
    """The logistic function 1 / (1 + e^{-u})."""
    return 1.0 / (1.0 + np.exp(-np.asarray(u, dtype=float)))


def logit(x: ArrayLike) -> np.ndarray:
    """Inverse of :func:`logistic`: ln(x / (1 - x))."""
    x = np.asarray(x, dtype=float)
    return np.log(x / (1.0 - x))


def japan_price_ratio(price_ratio: ArrayLike, ownership_advantage: ArrayLike) -> np.ndarray:
    """Japan's effective kei price ratio r_JP = r (1 - v)."""
    return np.multiply(price_ratio, np.subtract(1.0, ownership_advantage))


def kei_utility(
    price_ratio: ArrayLike,
    elasticity: ArrayLike,
    us_utility_at_analog: ArrayLike,
    us_price_ratio: ArrayLike,
    japan_share: ArrayLike,
    japan_ratio: ArrayLike,
    japan_weight: ArrayLike,
) -> np.ndarray:
    """u = (1 - w) [U_a + beta ln(r / r_a)] + w [logit(J) + beta ln(r / r_JP)]."""
    u_us = us_utility(price_ratio, elasticity, us_utility_at_analog, us_price_ratio)
    u_jp = np.add(logit(japan_share), np.multiply(elasticity, np.log(price_ratio) - np.log(japan_ratio)))
    return np.multiply(np.subtract(1.0, japan_weight), u_us) + np.multiply(japan_weight, u_jp)


def us_utility(
    price_ratio: ArrayLike, elasticity: ArrayLike, us_utility_at_analog: ArrayLike, us_price_ratio: ArrayLike
) -> np.ndarray:
    """The US anchor's utility at price ratio r: U_a + beta ln(r / r_a)."""
    return np.add(us_utility_at_analog, np.multiply(elasticity, np.log(price_ratio) - np.log(us_price_ratio)))


def kei_class_share(utility: ArrayLike, addressable: ArrayLike) -> np.ndarray:
    """Long-run kei share of new-vehicle sales s = a sigma(u)."""
    return np.multiply(addressable, logistic(utility))


def buyer_price(
    base_price: ArrayLike,
    compliance_cost: ArrayLike,
    tariff: ArrayLike,
    pass_through: ArrayLike,
    customs_ratio: ArrayLike,
    imported: bool,
) -> np.ndarray:
    """Price the US buyer pays: price + compliance + the passed-through duty on the customs value (imports).

    US duty is ad valorem on the customs (transaction) value at entry, below the retail price by the importer's
    and dealer's margins and inland costs; ``customs_ratio`` is customs value / retail price.
    """
    duty = np.multiply(np.multiply(np.multiply(base_price, customs_ratio), tariff), pass_through) if imported else 0.0
    return np.asarray(base_price, dtype=float) + duty + np.asarray(compliance_cost, dtype=float)


@dataclass
class ClassShareFit:
    """Price coefficient and US class level from analog observations (see the module docstring).

    ``fit`` takes columns analog, share (of all new-vehicle sales) and price_ratio; fitted state is in the
    trailing-underscore attributes. With no price change within any analog the data carry no information on beta
    (``beta_within_se_`` is infinite) and beta stays at the prior.
    """

    prior_mean: float
    prior_sd: float
    addressable: float

    def fit(self, analogs: pd.DataFrame) -> ClassShareFit:
        """Estimate beta (prior x within-analog likelihood), U_a, r_a and the between-analog spread."""
        share = analogs.share.to_numpy(dtype=float)
        if len(analogs) < 2 or np.any(share <= 0) or np.any(share >= self.addressable):
            raise ValueError("class-share fit needs >= 2 analog points with 0 < share < addressable share")
        frame = analogs.assign(y=logit(share / self.addressable), x=np.log(analogs.price_ratio.to_numpy(dtype=float)))
        groups = frame.groupby("analog", sort=False)
        dx = frame.x - groups.x.transform("mean")
        dy = frame.y - groups.y.transform("mean")
        sxx, df = float((dx**2).sum()), len(frame) - groups.ngroups - 1
        if sxx > 1e-12 and df > 0:
            self.beta_within_ = float((dx * dy).sum() / sxx)
            self.beta_within_se_ = float(np.sqrt(((dy - self.beta_within_ * dx) ** 2).sum() / df / sxx))
            data_precision = 1.0 / self.beta_within_se_**2
        else:
            self.beta_within_, self.beta_within_se_, data_precision = float("nan"), float("inf"), 0.0
        prior_precision = 1.0 / self.prior_sd**2
        within = self.beta_within_ if data_precision else 0.0
        precision = prior_precision + data_precision
        self.beta_ = float((self.prior_mean * prior_precision + within * data_precision) / precision)
        self.beta_sd_ = float(1.0 / np.sqrt(precision))
        self.informative_ = data_precision > 0
        means = groups[["x", "y"]].mean()
        self.log_price_ratio_ = float(means.x.mean())
        levels = means.y - self.beta_ * means.x
        self.utility_ = float(levels.mean() + self.beta_ * self.log_price_ratio_)
        self.between_sd_ = float(levels.std(ddof=1)) if len(levels) > 1 else float("nan")
        self.predictive_sd_ = float(self.between_sd_ * np.sqrt(1.0 + 1.0 / len(levels)))
        self.pooled_slope_ = float(np.polyfit(frame.x, frame.y, 1)[0])
        self.analogs_ = int(groups.ngroups)
        level = frame.analog.map(levels)
        self.points_ = frame.assign(level=level, fitted=level + self.beta_ * frame.x)
        return self

    @property
    def price_ratio_(self) -> float:
        """r_a, the analogs' (geometric) mean price ratio."""
        return float(np.exp(self.log_price_ratio_))

    def predict(self, price_ratio: ArrayLike) -> np.ndarray:
        """The analogs' share at ``price_ratio`` with the fitted level (w = 0)."""
        u = self.utility_ + self.beta_ * (np.log(price_ratio) - self.log_price_ratio_)
        return kei_class_share(u, self.addressable)


def leave_one_analog_out(fit: ClassShareFit, naive_analog: str) -> pd.DataFrame:
    """Backtest of the US anchor: each analog's utility predicted from the others alone, against a naive anchor.

    For analog i the fit is redone without it and predicts y_ij = U_a + beta (x_ij - xbar) with predictive sd
    tau (1 + 1/m)^(1/2); the naive prediction is ``naive_analog``'s level alone (the single-analog calibration the
    model used before), at the same beta. Returns one row per point: analog, year, observed, predicted, sd,
    z, inside_80 (|z| <= 1.2816) and naive (NaN for the naive analog itself).
    """
    frame = fit.points_
    naive_level = frame.loc[frame.analog == naive_analog, "level"]
    rows = []
    for name in frame.analog.unique():
        others = ClassShareFit(fit.prior_mean, fit.prior_sd, fit.addressable).fit(frame[frame.analog != name])
        part = frame[frame.analog == name]
        predicted = others.utility_ + others.beta_ * (part.x - others.log_price_ratio_)
        z = (part.y - predicted) / others.predictive_sd_
        naive = naive_level.iloc[0] + fit.beta_ * part.x if name != naive_analog and len(naive_level) else np.nan
        rows.append(
            pd.DataFrame(
                {
                    "analog": name,
                    "year": part.year,
                    "observed": part.y,
                    "predicted": predicted,
                    "sd": others.predictive_sd_,
                    "z": z,
                    "inside_80": np.abs(z) <= 1.2816,
                    "naive": naive,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
