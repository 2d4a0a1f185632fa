"""The adoption path of a new vehicle class, pooled across US launches: shapes, a hierarchical Bayesian fit, updates.

The scenario kernel forecasts ``sales_t = share * A(t) * market_t``; the adoption path A is one of four shapes
(``t`` = years since launch, the launch year counting as 1; F is the Bass cumulative fraction):

    bass            A(t) = F(t; p, q)                                   Bass (1969) as the path of the class share
    bass_decline    A(t) = F(t; p, q) e^{-d (t - 1)},  d >= 0           with obsolescence (the potential decays)
    gbm_potential   A(t) = F(t; p, q) e^{g (t - 1)},   g any sign       Generalized Bass with a potential that
                                                                        grows or shrinks (Mahajan & Peterson 1978)
    life_cycle      A(t) = [F(t) - F(t - 1)] / peak increment           a nameplate's rise and decline: Bass
                                                                        increments scaled to 1 at their peak

``trend`` holds -d or g (0 for the other shapes). Observed annual sales of an analog i are

    ln y_it = ln market_t + ln s_i + ln A(t; p_i, q_i, trend_i) + u_it,    u_it = phi u_i,t-1 + sigma_i e_it

an AR(1) deviation in logs that starts at u_i0 = 0 the year before launch (years with no figure are skipped
exactly: phi^h over a gap of h years). The hierarchical model pools ln(p + q), ln(q / p), trend, ln s and
ln sigma across analogs as normals with learned means and fixed spreads (see :class:`Priors`), the means
centred on the meta-analysis values (Sultan, Farley & Lehmann 1990: mean p = 0.03, q = 0.38), fitted by
NUTS (Hoffman & Gelman 2014) in NumPyro (Phan, Pradhan & Jankowiak 2019). Its *population* draws (a new class
drawn from the pooled distribution) are what a kei launch, with no history, inherits.

A series with some history is updated from that population by adaptive importance sampling (population Monte
Carlo, Cappe et al. 2004): Gaussian proposals refitted to the weighted draws, then resampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Literal

import numpy as np
import pandas as pd

from models.ar1 import ar1_paths
from models.diffusion import ADOPTION_SHAPES, adoption_path

Shape = Literal[ADOPTION_SHAPES]  # type: ignore[valid-type]
LITERATURE_P, LITERATURE_Q = 0.03, 0.38  # Sultan, Farley & Lehmann (1990)


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class AnalogPanel:
    """Analog series padded to one grid: row i holds series i's observed years in order (mask marks real ones)."""

    names: tuple[str, ...]
    t: np.ndarray  # years since launch (launch = 1)
    gap: np.ndarray  # years since the previous observation (the first: since t = 0, the year before launch)
    log_share: np.ndarray  # ln(sales / market)
    mask: np.ndarray  # bool

    @classmethod
    def from_long(cls, frame: pd.DataFrame, names: list[str] | None = None) -> AnalogPanel:
        """From a long frame (series, year, sales, market[, t]); ``t`` counts years since launch (launch = 1).

        Without ``t``, each series' launch is its first year. A partial launch year left out of the frame keeps
        its place through ``t``: the first observation is then t = 2.
        """
        names = list(names or dict.fromkeys(frame.series))
        width = max(int((frame.series == n).sum()) for n in names)
        shape = (len(names), width)
        t, gap, ls, mask = np.ones(shape), np.ones(shape), np.zeros(shape), np.zeros(shape, bool)
        for i, name in enumerate(names):
            part = frame[frame.series == name].sort_values("year")
            if part.empty or (part.sales <= 0).any() or (part.market <= 0).any():
                raise ValueError(f"analog {name!r} needs positive sales and market in every year")
            n = len(part)
            years = part.t.to_numpy(float) if "t" in part else part.year.to_numpy(float) - part.year.min() + 1
            t[i, :n] = years
            gap[i, :n] = np.diff(years, prepend=0.0)
            ls[i, :n] = np.log(part.sales.to_numpy(float) / part.market.to_numpy(float))
            mask[i, :n] = True
        return cls(tuple(names), t, gap, ls, mask)

    def without(self, name: str) -> AnalogPanel:
        """The panel with one series' observations masked out (its parameters then follow the population)."""
        mask = self.mask.copy()
        mask[self.names.index(name)] = False
        return AnalogPanel(self.names, self.t, self.gap, self.log_share, mask)


def ar1_loglik(resid, gap, mask, sigma, phi, xp=np):
    """Log-likelihood of AR(1) deviations ``resid`` that start at zero the year before launch (t = 0).

    u_j | u_j-1 ~ N(phi^h u_j-1, sigma^2 (1 - phi^2h) / (1 - phi^2)), h the gap in years, u_0 = 0: a launch is
    on its path when it starts, so the deviations cannot trade off against the share level at the start.
    ``gap`` of a row's first observation is its t (years since t = 0). Masked observations must come after the
    unmasked ones of their row. The last axis holds the observations in time order.
    """
    log_phi = xp.log(phi)
    decay = xp.exp(gap * log_phi)
    prev = xp.concatenate([xp.zeros_like(resid[..., :1]), resid[..., :-1]], axis=-1)
    # (1 - phi^2h) / (1 - phi^2) through expm1: exact near the unit root, where the plain ratio loses every digit
    # of single precision and its noisy gradient makes the sampler diverge.
    var = sigma**2 * xp.expm1(2.0 * gap * log_phi) / xp.expm1(2.0 * log_phi)
    ll = -0.5 * (xp.log(2 * np.pi * var) + (resid - decay * prev) ** 2 / var)
    return xp.sum(xp.where(mask, ll, 0.0), axis=-1)


def ar1_deviations(shocks: np.ndarray, sigma, phi, active: np.ndarray | None = None) -> np.ndarray:
    """AR(1) paths u_t = phi u_t-1 + sigma e_t from standard normal ``shocks`` (draws, years), zero before launch.

    ``active`` (broadcast to ``shocks``) marks the years since launch (t >= 1); before them u stays 0, so a path
    starts at zero the year before launch, as :func:`ar1_loglik` assumes (models.ar1).
    """
    return ar1_paths(shocks, sigma, phi, active=active)


# ---------------------------------------------------------------------------------------------- hierarchical fit
@dataclass(frozen=True)
class Priors:
    """Hyper-priors: literature means for p and q (Sultan, Farley & Lehmann 1990), weakly informative elsewhere.

    The Bass parameters are sampled as speed = ln(p + q) and ratio = ln(q / p): the data pin the speed of a
    launch's take-off and its timing, which ln p and ln q each mix (ln p is nearly flat when p << q).

    The between-analog spreads (``*_spread``) are fixed, not learned: four analogs cannot estimate a standard
    deviation, its posterior is the prior's and its funnel defeats the sampler (Gelman 2006, "Prior distributions
    for variance parameters in hierarchical models", for fewer than about five groups). They are set at the
    spreads the analogs themselves show (the learned-spread fits put ln(q/p) at 1.3-2.1, ln share at 1-1.5):
    a new launch inherits the population's mean, learned, and this stated spread. The yearly deviations start
    at zero (:func:`ar1_loglik`), so a persistent AR(1) no longer trades off against the share level.
    """

    p: float = LITERATURE_P
    q: float = LITERATURE_Q
    speed_sd: float = 0.5  # sd of the population mean of ln(p + q) around the literature value
    ratio_sd: float = 0.7  # sd of the population mean of ln(q / p) around the literature value
    speed_spread: float = 0.75  # between-analog sd of ln(p + q)
    ratio_spread: float = 1.5  # between-analog sd of ln(q / p)
    share: float = 0.01  # centre of the population's long-run share (1% of the market)
    share_sd: float = 2.0
    share_spread: float = 1.5
    sigma: float = 0.2  # centre of the yearly deviation sd in logs
    sigma_sd: float = 0.5
    sigma_spread: float = 0.5
    trend_sd: float = 0.05  # sd of the population trend g (gbm_potential)
    decline: float = 0.03  # centre of the decline rate d (bass_decline)


# Each shape's trend site: shape -> (site, centre, sd of the mean and between analogs, site -> trend,
# trend -> site). Bass has none (trend 0).
SHAPE_TRENDS = {
    "gbm_potential": ("trend", lambda pr: 0.0, lambda pr: pr.trend_sd, lambda x, xp: x, lambda g: g),
    "bass_decline": (
        "log_decline",
        lambda pr: np.log(pr.decline),
        lambda pr: 1.0,
        lambda x, xp: -xp.exp(x),
        lambda g: np.log(-g),
    ),
}


def bass_pq(log_speed, log_ratio, xp=np):
    """(p, q) from speed = ln(p + q) and ratio = ln(q / p): p = e^speed / (1 + e^ratio), q = p e^ratio."""
    soft = xp.logaddexp(0.0, log_ratio)
    return xp.exp(log_speed - soft), xp.exp(log_speed + log_ratio - soft)


def _site_priors(priors: Priors, shape: str) -> dict[str, tuple[float, float, float]]:
    """Site -> (centre, sd of the population mean, between-analog spread)."""
    sites = {
        "log_speed": (np.log(priors.p + priors.q), priors.speed_sd, priors.speed_spread),
        "log_ratio": (np.log(priors.q / priors.p), priors.ratio_sd, priors.ratio_spread),
        "log_share": (np.log(priors.share), priors.share_sd, priors.share_spread),
        "log_sigma": (np.log(priors.sigma), priors.sigma_sd, priors.sigma_spread),
    }
    if shape in SHAPE_TRENDS:
        site, centre, scale, *_ = SHAPE_TRENDS[shape]
        sites[site] = (centre(priors), scale(priors), scale(priors))
    return sites


PERSISTENCE_PRIOR = (2.0, 2.0)  # Beta prior of the deviations' AR(1) coefficient phi


def _population(name, centre, scale, spread, n):
    """x_i = mu + spread z_i, mu ~ N(centre, scale), z_i ~ N(0, 1): non-centred, with the spread fixed."""
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample(f"mu_{name}", dist.Normal(centre, scale))
    with numpyro.plate("analogs", n):
        z = numpyro.sample(f"z_{name}", dist.Normal(0.0, 1.0))
    return mu + spread * z


def _parameters(values: dict, shape: str, xp=np) -> dict:
    """Sites (log_speed, log_ratio, log_share, log_sigma[, trend site]) -> p, q, trend, log_share, sigma."""
    p, q = bass_pq(values["log_speed"], values["log_ratio"], xp)
    trend = xp.zeros_like(p)
    if shape in SHAPE_TRENDS:
        site, _, _, to_trend, _ = SHAPE_TRENDS[shape]
        trend = to_trend(values[site], xp)
    return {"p": p, "q": q, "trend": trend, "log_share": values["log_share"], "sigma": xp.exp(values["log_sigma"])}


def hierarchical_model(t, gap, log_share, mask, shape: str, priors: Priors):
    """NumPyro model of :class:`AnalogPanel` arrays (see the module docstring); non-centred parameters."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    n = t.shape[0]
    values = {site: _population(site, *prior, n) for site, prior in _site_priors(priors, shape).items()}
    v = _parameters(values, shape, jnp)
    phi = numpyro.sample("phi", dist.Beta(*PERSISTENCE_PRIOR))
    path = adoption_path(t, v["p"][:, None], v["q"][:, None], v["trend"][:, None], shape, xp=jnp)
    resid = log_share - v["log_share"][:, None] - jnp.log(jnp.maximum(path, 1e-300))
    numpyro.factor("loglik", jnp.sum(ar1_loglik(resid, gap, mask, v["sigma"][:, None], phi, xp=jnp)))


def _population_draws(samples: dict, shape: str, priors: Priors, rng: np.random.Generator) -> pd.DataFrame:
    """One new analog per posterior draw, from the population normals (the parameters a kei launch inherits)."""
    draws = len(samples["phi"])
    values = {
        site: samples[f"mu_{site}"] + spread * rng.standard_normal(draws)
        for site, (_, _, spread) in _site_priors(priors, shape).items()
    }
    return pd.DataFrame({**_parameters(values, shape), "phi": samples["phi"]})


def _analog_draws(samples: dict, shape: str, priors: Priors, names: tuple[str, ...]) -> pd.DataFrame:
    """Each analog's own parameter draws (long: series, draw, p, q, trend, log_share, sigma, phi)."""
    draws, n = samples["z_log_speed"].shape
    values = {
        site: samples[f"mu_{site}"][:, None] + spread * samples[f"z_{site}"]
        for site, (_, _, spread) in _site_priors(priors, shape).items()
    }
    wide = {**_parameters(values, shape), "phi": np.repeat(samples["phi"][:, None], n, axis=1)}
    return pd.concat(
        [
            pd.DataFrame({"series": name, "draw": np.arange(draws), **{k: v[:, i] for k, v in wide.items()}})
            for i, name in enumerate(names)
        ],
        ignore_index=True,
    )


def prior_population(shape: str, priors: Priors, draws: int, seed: int = 0) -> pd.DataFrame:
    """Draws of a new analog under the hyper-priors alone (the model's prior predictive, before any data): the
    population means from their normals, phi from its Beta, then one analog each as :func:`_population_draws`."""
    rng = np.random.default_rng(seed)
    samples = {
        f"mu_{site}": centre + scale * rng.standard_normal(draws)
        for site, (centre, scale, _) in _site_priors(priors, shape).items()
    }
    samples["phi"] = rng.beta(*PERSISTENCE_PRIOR, draws)
    return _population_draws(samples, shape, priors, rng)


# The convergence rule every fit is held to (Vehtari et al. 2021, rank-normalised R-hat and bulk ESS).
MAX_RHAT, MIN_BULK_ESS, MAX_DIVERGENCES = 1.01, 400.0, 0


def converged(diagnostics: dict, max_rhat=MAX_RHAT, min_ess=MIN_BULK_ESS, max_divergences=MAX_DIVERGENCES) -> bool:
    """Whether a fit's diagnostics meet the rule: max R-hat, min bulk ESS and divergent transitions."""
    return (
        diagnostics["max_rhat"] < max_rhat
        and diagnostics["min_ess"] >= min_ess
        and diagnostics["divergences"] <= max_divergences
    )


@lru_cache(maxsize=8)
def _sampler(shape: str, priors: Priors, warmup: int, samples: int, chains: int, max_tree_depth: int, size: tuple):
    """One NUTS sampler per model, settings and panel ``size``, so refits on panels of the same size reuse its
    compiled code (numpyro keys that code on the parameters' structure, not their shapes: a panel of another size
    needs a sampler of its own).

    The chains run vectorised: one compiled program steps them together (small models are dispatch-bound).
    """
    from numpyro.infer import MCMC, NUTS

    kernel = NUTS(
        partial(hierarchical_model, shape=shape, priors=priors),
        target_accept_prob=0.95,  # smaller steps where the persistence nears 1
        max_tree_depth=max_tree_depth,
        dense_mass=True,
    )
    return MCMC(
        kernel,
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method="vectorized",
        progress_bar=False,
        jit_model_args=True,
    )


def _rank_normalised(draws: np.ndarray) -> np.ndarray:
    """Draws (chains, draws, ...) replaced by the normal scores of their pooled ranks (Vehtari et al. 2021, eq. 14)."""
    from scipy.stats import norm, rankdata

    chains, n = draws.shape[:2]
    ranks = rankdata(draws.reshape(chains * n, -1), axis=0).reshape(draws.shape)
    return norm.ppf((ranks - 0.375) / (chains * n + 0.25))


def _diagnostics(mcmc) -> dict:
    """Max rank-normalised split R-hat and min bulk ESS over every sampled site (Vehtari et al. 2021), the site
    that mixed worst, the divergent transitions and the mean leapfrog steps per draw."""
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    grouped = {k: np.asarray(v, float) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    normal = {k: _rank_normalised(v) for k, v in grouped.items()}
    folded = {k: _rank_normalised(np.abs(v - np.median(v, axis=(0, 1)))) for k, v in grouped.items()}
    rhat = {k: float(max(np.nanmax(split_gelman_rubin(normal[k])), np.nanmax(split_gelman_rubin(folded[k]))))
            for k in grouped}  # fmt: skip
    ess = {k: float(np.nanmin(effective_sample_size(v))) for k, v in normal.items()}
    fields = mcmc.get_extra_fields()
    return {
        "max_rhat": max(rhat.values()),
        "min_ess": min(ess.values()),
        "divergences": int(np.asarray(fields["diverging"]).sum()),
        "mean_steps": float(np.asarray(fields["num_steps"]).mean()),
        "worst_parameter": min(ess, key=ess.get),
    }


@dataclass
class HierarchicalAdoption:
    """Hierarchical Bayesian fit of one adoption shape to an :class:`AnalogPanel` (NUTS in NumPyro).

    After :meth:`fit`: ``population_`` (draws of a new analog), ``analogs_`` (each analog's draws), ``hyper_``
    (population means mu_* and phi), ``diagnostics_`` (max R-hat, min bulk ESS, divergences, mean leapfrog
    steps, worst parameter) and ``converged_`` (:func:`converged`).
    """

    shape: Shape = "bass"
    priors: Priors = Priors()
    warmup: int = 500
    samples: int = 750
    chains: int = 4
    seed: int = 0
    max_tree_depth: int = 8

    def fit(self, panel: AnalogPanel) -> HierarchicalAdoption:
        import jax

        settings = (self.shape, self.priors, self.warmup, self.samples, self.chains, self.max_tree_depth)
        mcmc = _sampler(*settings, panel.t.shape)
        mcmc.run(
            jax.random.PRNGKey(self.seed),
            panel.t,
            panel.gap,
            panel.log_share,
            panel.mask,
            extra_fields=("diverging", "num_steps"),
        )
        samples = {k: np.asarray(v, dtype=float) for k, v in mcmc.get_samples().items()}
        self.diagnostics_ = _diagnostics(mcmc)
        self.converged_ = converged(self.diagnostics_)
        rng = np.random.default_rng(self.seed)
        self.population_ = _population_draws(samples, self.shape, self.priors, rng)
        self.hyper_ = pd.DataFrame({k: v for k, v in samples.items() if k.startswith("mu_") or k == "phi"})
        self.analogs_ = _analog_draws(samples, self.shape, self.priors, panel.names)
        return self


# ---------------------------------------------------------------------------------------------- one series
def _to_vector(draws: pd.DataFrame, shape: str) -> np.ndarray:
    """Draws -> unconstrained vectors (ln p, ln q, [g or ln d], ln s, ln sigma, logit phi)."""
    cols = [np.log(draws.p), np.log(draws.q)]
    if shape in SHAPE_TRENDS:
        cols.append(SHAPE_TRENDS[shape][4](draws.trend))
    cols += [draws.log_share, np.log(draws.sigma), np.log(draws.phi / (1 - draws.phi))]
    return np.column_stack([np.asarray(c, dtype=float) for c in cols])


def _from_vector(x: np.ndarray, shape: str) -> pd.DataFrame:
    trend = SHAPE_TRENDS[shape][3](x[:, 2], np) if shape in SHAPE_TRENDS else np.zeros(len(x))
    return pd.DataFrame(
        {
            "p": np.exp(x[:, 0]),
            "q": np.exp(x[:, 1]),
            "trend": trend,
            "log_share": x[:, -3],
            "sigma": np.exp(x[:, -2]),
            "phi": 1 / (1 + np.exp(-x[:, -1])),
        }
    )


def _mvn_logpdf(x: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    z = np.linalg.solve(chol, (x - mean).T).T
    return -0.5 * np.sum(z**2, axis=1) - np.log(np.diag(chol)).sum() - 0.5 * x.shape[1] * np.log(2 * np.pi)


def series_loglik(draws: pd.DataFrame, shape: str, t, gap, log_share) -> np.ndarray:
    """Log-likelihood of one series' observations under each draw (the hierarchical model's likelihood)."""
    col = lambda name: draws[name].to_numpy()[:, None]  # noqa: E731
    path = adoption_path(np.asarray(t, float)[None, :], col("p"), col("q"), col("trend"), shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a path at 0 scores -inf, not a warning
        resid = np.asarray(log_share)[None, :] - col("log_share") - np.log(path)
        ll = ar1_loglik(resid, np.asarray(gap, float)[None, :], np.ones_like(resid, bool), col("sigma"), col("phi"))
    return np.where(np.isfinite(ll), ll, -np.inf)


def update_series(
    population: pd.DataFrame,
    shape: str,
    t,
    gap,
    log_share,
    rng: np.random.Generator,
    size: int = 2000,
    proposals: int = 8000,
    rounds: int = 12,
) -> pd.DataFrame:
    """Draws of one series' parameters given its first observations and the population as prior.

    The population draws are summarised as a normal on the unconstrained scale (the prior); the posterior is
    reached by adaptive importance sampling (Gaussian proposals refitted to the weighted draws each round,
    widened by 1.5 so the tails stay covered) and resampled to ``size`` equally weighted draws.
    """
    prior = _to_vector(population, shape)
    prior_mean, prior_chol = prior.mean(axis=0), np.linalg.cholesky(np.cov(prior.T) + 1e-9 * np.eye(prior.shape[1]))
    mean, chol = prior_mean, prior_chol * 1.2
    for _ in range(rounds):
        x = mean + rng.standard_normal((proposals, len(mean))) @ chol.T
        log_w = (
            _mvn_logpdf(x, prior_mean, prior_chol)
            + series_loglik(_from_vector(x, shape), shape, t, gap, log_share)
            - _mvn_logpdf(x, mean, chol)
        )
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        mean = w @ x
        cov = ((x - mean) * w[:, None]).T @ (x - mean)
        chol = np.linalg.cholesky(1.5 * cov + 1e-6 * np.eye(len(mean)))
    picks = rng.choice(proposals, size=size, p=w)
    return _from_vector(x[picks], shape)


def simulate_sales(
    draws: pd.DataFrame,
    shape: str,
    t: np.ndarray,
    market: np.ndarray,
    rng: np.random.Generator,
    last: tuple[float, float] | None = None,
    share: np.ndarray | float | None = None,
) -> np.ndarray:
    """Predictive sales (draws, len(t)) at years since launch ``t`` (increasing) with the AR(1) deviations.

    ``last`` = (t, ln share observed then) continues the deviation from a series' last observation; without it
    the deviations start at zero the year before launch (t = 0). ``share`` replaces exp(log_share) (the kernel's
    long-run class share). Sales never exceed the market.
    """
    col = lambda name: draws[name].to_numpy()[:, None]  # noqa: E731
    t = np.asarray(t, float)
    path = adoption_path(t[None, :], col("p"), col("q"), col("trend"), shape)
    scale = np.exp(col("log_share")) if share is None else np.reshape(np.asarray(share, float), (-1, 1))
    start, start_t = np.zeros(len(draws)), 0.0
    if last is not None:
        first = adoption_path(np.array([[last[0]]]), col("p"), col("q"), col("trend"), shape)[:, 0]
        start, start_t = last[1] - draws.log_share.to_numpy() - np.log(first), last[0]
    shocks = rng.standard_normal((len(t), len(draws))).T  # year by year, as drawn one year at a time
    u = ar1_paths(shocks, draws.sigma.to_numpy(), draws.phi.to_numpy(), np.diff(t, prepend=start_t), start)
    return np.minimum(scale * path * np.exp(u), 1.0) * np.asarray(market, float)[None, :]
