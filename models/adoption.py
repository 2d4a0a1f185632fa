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

a stationary AR(1) deviation in logs (years with no figure are skipped exactly: phi^h over a gap of h years).
The hierarchical model pools ln p, ln q, trend, ln s and ln sigma across analogs as normals whose means take
the meta-analysis values as hyper-priors (Sultan, Farley & Lehmann 1990: mean p = 0.03, q = 0.38), fitted by
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

from models.diffusion import ADOPTION_SHAPES, adoption_path

Shape = Literal[ADOPTION_SHAPES]  # type: ignore[valid-type]
LITERATURE_P, LITERATURE_Q = 0.03, 0.38  # Sultan, Farley & Lehmann (1990)


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class AnalogPanel:
    """Analog series padded to one grid: row i holds series i's observed years in order (mask marks real ones)."""

    names: tuple[str, ...]
    t: np.ndarray  # years since launch (launch = 1)
    gap: np.ndarray  # years since the previous observation (1 for the first)
    log_share: np.ndarray  # ln(sales / market)
    mask: np.ndarray  # bool

    @classmethod
    def from_long(cls, frame: pd.DataFrame, names: list[str] | None = None) -> AnalogPanel:
        """From a long frame (series, year, sales, market); each series' launch is its first year."""
        names = list(names or dict.fromkeys(frame.series))
        width = max(int((frame.series == n).sum()) for n in names)
        shape = (len(names), width)
        t, gap, ls, mask = np.ones(shape), np.ones(shape), np.zeros(shape), np.zeros(shape, bool)
        for i, name in enumerate(names):
            part = frame[frame.series == name].sort_values("year")
            if part.empty or (part.sales <= 0).any() or (part.market <= 0).any():
                raise ValueError(f"analog {name!r} needs positive sales and market in every year")
            n = len(part)
            years = part.year.to_numpy(float)
            t[i, :n] = years - years[0] + 1
            gap[i, 1:n] = np.diff(years)
            ls[i, :n] = np.log(part.sales.to_numpy(float) / part.market.to_numpy(float))
            mask[i, :n] = True
        return cls(tuple(names), t, gap, ls, mask)

    def without(self, name: str) -> AnalogPanel:
        """The panel with one series' observations masked out (its parameters then follow the population)."""
        mask = self.mask.copy()
        mask[self.names.index(name)] = False
        return AnalogPanel(self.names, self.t, self.gap, self.log_share, mask)


def ar1_loglik(resid, gap, mask, sigma, phi, xp=np):
    """Log-likelihood of stationary AR(1) deviations ``resid`` (last axis = observations in time order).

    u_1 ~ N(0, sigma^2 / (1 - phi^2)); u_j | u_j-1 ~ N(phi^h u_j-1, sigma^2 (1 - phi^2h) / (1 - phi^2)), h the gap.
    Masked observations must come after the unmasked ones of their row.
    """
    stationary = sigma**2 / (1.0 - phi**2)
    decay = phi**gap
    prev = xp.concatenate([xp.zeros_like(resid[..., :1]), resid[..., :-1]], axis=-1)
    first = xp.arange(resid.shape[-1]) == 0
    mean = xp.where(first, 0.0, decay * prev)
    var = xp.where(first, stationary, stationary * (1.0 - decay**2))
    ll = -0.5 * (xp.log(2 * np.pi * var) + (resid - mean) ** 2 / var)
    return xp.sum(xp.where(mask, ll, 0.0), axis=-1)


# ---------------------------------------------------------------------------------------------- hierarchical fit
@dataclass(frozen=True)
class Priors:
    """Hyper-priors: literature means for p and q (Sultan, Farley & Lehmann 1990), weakly informative elsewhere."""

    p: float = LITERATURE_P
    q: float = LITERATURE_Q
    log_sd: float = 0.5  # sd of the population mean of ln p, ln q around the literature values
    spread: float = 0.75  # half-normal scale of the between-analog sd of ln p, ln q
    share: float = 0.01  # centre of the population's long-run share (1% of the market)
    trend_sd: float = 0.05  # sd of the population trend g (gbm_potential)
    decline: float = 0.03  # centre of the decline rate d (bass_decline)
    sigma: float = 0.2  # centre of the yearly deviation sd in logs


def _population(name, centre, scale, spread, n):
    import numpyro
    import numpyro.distributions as dist

    mu = numpyro.sample(f"mu_{name}", dist.Normal(centre, scale))
    tau = numpyro.sample(f"tau_{name}", dist.HalfNormal(spread))
    with numpyro.plate("analogs", n):
        z = numpyro.sample(f"z_{name}", dist.Normal(0.0, 1.0))
    return mu + tau * z


def hierarchical_model(t, gap, log_share, mask, shape: str, priors: Priors):
    """NumPyro model of :class:`AnalogPanel` arrays (see the module docstring); non-centred parameters."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    n = t.shape[0]
    log_p = _population("log_p", np.log(priors.p), priors.log_sd, priors.spread, n)
    log_q = _population("log_q", np.log(priors.q), priors.log_sd, priors.spread, n)
    log_s = _population("log_share", np.log(priors.share), 2.0, 1.0, n)
    log_sigma = _population("log_sigma", np.log(priors.sigma), 0.5, 0.5, n)
    trend = jnp.zeros(n)
    if shape == "gbm_potential":
        trend = _population("trend", 0.0, priors.trend_sd, priors.trend_sd, n)
    elif shape == "bass_decline":
        trend = -jnp.exp(_population("log_decline", np.log(priors.decline), 1.0, 1.0, n))
    phi = numpyro.sample("phi", dist.Beta(2.0, 2.0))
    p, q, sigma = jnp.exp(log_p)[:, None], jnp.exp(log_q)[:, None], jnp.exp(log_sigma)[:, None]
    path = adoption_path(t, p, q, trend[:, None], shape, xp=jnp)
    resid = log_share - log_s[:, None] - jnp.log(jnp.maximum(path, 1e-300))
    numpyro.factor("loglik", jnp.sum(ar1_loglik(resid, gap, mask, sigma, phi, xp=jnp)))


def _population_draws(samples: dict, shape: str, rng: np.random.Generator) -> pd.DataFrame:
    """One new analog per posterior draw, from the population normals (the parameters a kei launch inherits)."""
    draws = len(samples["phi"])

    def new(site):
        return samples[f"mu_{site}"] + samples[f"tau_{site}"] * rng.standard_normal(draws)

    trend = np.zeros(draws)
    if shape == "gbm_potential":
        trend = new("trend")
    elif shape == "bass_decline":
        trend = -np.exp(new("log_decline"))
    return pd.DataFrame(
        {
            "p": np.exp(new("log_p")),
            "q": np.exp(new("log_q")),
            "trend": trend,
            "log_share": new("log_share"),
            "sigma": np.exp(new("log_sigma")),
            "phi": samples["phi"],
        }
    )


def _analog_draws(samples: dict, shape: str, names: tuple[str, ...]) -> pd.DataFrame:
    """Each analog's own parameter draws (long: series, draw, p, q, trend, log_share, sigma, phi)."""

    def own(site):
        return samples[f"mu_{site}"][:, None] + samples[f"tau_{site}"][:, None] * samples[f"z_{site}"]

    draws, n = samples["z_log_p"].shape
    trend = np.zeros((draws, n))
    if shape == "gbm_potential":
        trend = own("trend")
    elif shape == "bass_decline":
        trend = -np.exp(own("log_decline"))
    wide = {
        "p": np.exp(own("log_p")),
        "q": np.exp(own("log_q")),
        "trend": trend,
        "log_share": own("log_share"),
        "sigma": np.exp(own("log_sigma")),
        "phi": np.repeat(samples["phi"][:, None], n, axis=1),
    }
    return pd.concat(
        [
            pd.DataFrame({"series": name, "draw": np.arange(draws), **{k: v[:, i] for k, v in wide.items()}})
            for i, name in enumerate(names)
        ],
        ignore_index=True,
    )


def prior_population(panel: AnalogPanel, shape: str, priors: Priors, draws: int, seed: int = 0) -> pd.DataFrame:
    """Draws of a new analog under the hyper-priors alone (the model's prior predictive, before any data)."""
    import jax
    from numpyro.infer import Predictive

    predictive = Predictive(hierarchical_model, num_samples=draws)
    samples = predictive(jax.random.PRNGKey(seed), panel.t, panel.gap, panel.log_share, panel.mask, shape, priors)
    samples = {k: np.asarray(v, dtype=float) for k, v in samples.items() if k != "loglik"}
    return _population_draws(samples, shape, np.random.default_rng(seed))


@lru_cache(maxsize=8)
def _sampler(shape: str, priors: Priors, warmup: int, samples: int, chains: int, max_tree_depth: int):
    """One NUTS sampler per model and settings, so refits on panels of the same size reuse its compiled code."""
    from numpyro.infer import MCMC, NUTS

    kernel = NUTS(
        partial(hierarchical_model, shape=shape, priors=priors),
        target_accept_prob=0.9,
        max_tree_depth=max_tree_depth,
        dense_mass=True,
    )
    return MCMC(
        kernel,
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method="sequential",
        progress_bar=False,
        jit_model_args=True,
    )


@dataclass
class HierarchicalAdoption:
    """Hierarchical Bayesian fit of one adoption shape to an :class:`AnalogPanel` (NUTS in NumPyro).

    After :meth:`fit`: ``population_`` (draws of a new analog), ``analogs_`` (each analog's draws), ``hyper_``
    (population means mu_*, sds tau_* and phi), ``diagnostics_`` (max R-hat, min bulk ESS, divergences,
    mean leapfrog steps) and ``converged_``.
    """

    shape: Shape = "bass"
    priors: Priors = Priors()
    warmup: int = 500
    samples: int = 500
    chains: int = 2
    seed: int = 0
    max_tree_depth: int = 8

    def fit(self, panel: AnalogPanel) -> HierarchicalAdoption:
        import jax
        from numpyro.diagnostics import summary

        mcmc = _sampler(self.shape, self.priors, self.warmup, self.samples, self.chains, self.max_tree_depth)
        mcmc.run(
            jax.random.PRNGKey(self.seed),
            panel.t,
            panel.gap,
            panel.log_share,
            panel.mask,
            extra_fields=("diverging", "num_steps"),
        )
        grouped = mcmc.get_samples(group_by_chain=True)
        stats = summary({k: np.asarray(v) for k, v in grouped.items()}, group_by_chain=True)
        samples = {k: np.asarray(v, dtype=float) for k, v in mcmc.get_samples().items()}
        self.diagnostics_ = {
            "max_rhat": float(np.nanmax([np.nanmax(s["r_hat"]) for s in stats.values()])),
            "min_ess": float(np.nanmin([np.nanmin(s["n_eff"]) for s in stats.values()])),
            "divergences": int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum()),
            "mean_steps": float(np.asarray(mcmc.get_extra_fields()["num_steps"]).mean()),
        }
        self.converged_ = self.diagnostics_["max_rhat"] < 1.05 and self.diagnostics_["divergences"] == 0
        rng = np.random.default_rng(self.seed)
        self.population_ = _population_draws(samples, self.shape, rng)
        self.hyper_ = pd.DataFrame({k: v for k, v in samples.items() if k.startswith(("mu_", "tau_")) or k == "phi"})
        self.analogs_ = _analog_draws(samples, self.shape, panel.names)
        return self


# ---------------------------------------------------------------------------------------------- one series
def _to_vector(draws: pd.DataFrame, shape: str) -> np.ndarray:
    """Draws -> unconstrained vectors (ln p, ln q, [g or ln d], ln s, ln sigma, logit phi)."""
    cols = [np.log(draws.p), np.log(draws.q)]
    if shape == "gbm_potential":
        cols.append(draws.trend)
    elif shape == "bass_decline":
        cols.append(np.log(-draws.trend))
    cols += [draws.log_share, np.log(draws.sigma), np.log(draws.phi / (1 - draws.phi))]
    return np.column_stack([np.asarray(c, dtype=float) for c in cols])


def _from_vector(x: np.ndarray, shape: str) -> pd.DataFrame:
    trend = np.zeros(len(x))
    if shape == "gbm_potential":
        trend = x[:, 2]
    elif shape == "bass_decline":
        trend = -np.exp(x[:, 2])
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
    proposals: int = 4000,
    rounds: int = 6,
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
    the deviations start from their stationary distribution. ``share`` replaces exp(log_share) (the kernel's
    long-run class share). Sales never exceed the market.
    """
    col = lambda name: draws[name].to_numpy()[:, None]  # noqa: E731
    t = np.asarray(t, float)
    path = adoption_path(t[None, :], col("p"), col("q"), col("trend"), shape)
    scale = np.exp(col("log_share")) if share is None else np.reshape(np.asarray(share, float), (-1, 1))
    sigma, phi = draws.sigma.to_numpy(), draws.phi.to_numpy()
    stationary = sigma / np.sqrt(1 - phi**2)
    u = np.empty((len(draws), len(t)))
    if last is None:
        prev, prev_t = stationary * rng.standard_normal(len(draws)), t[0]
        u[:, 0] = prev
        start = 1
    else:
        first = adoption_path(np.array([[last[0]]]), col("p"), col("q"), col("trend"), shape)[:, 0]
        prev, prev_t, start = last[1] - draws.log_share.to_numpy() - np.log(first), last[0], 0
    for j in range(start, len(t)):
        decay = phi ** (t[j] - prev_t)
        prev = decay * prev + stationary * np.sqrt(1 - decay**2) * rng.standard_normal(len(draws))
        u[:, j], prev_t = prev, t[j]
    return np.minimum(scale * path * np.exp(u), 1.0) * np.asarray(market, float)[None, :]


def ar1_deviations(shocks: np.ndarray, sigma, phi) -> np.ndarray:
    """Stationary AR(1) paths u_t = phi u_t-1 + sigma e_t from standard normal ``shocks`` (draws, years).

    The first year starts from the stationary law N(0, sigma^2 / (1 - phi^2)); ``sigma``, ``phi`` broadcast
    against (draws, 1).
    """
    shocks = np.asarray(shocks, float)
    sigma = np.broadcast_to(np.reshape(np.asarray(sigma, float), (-1, 1)), (shocks.shape[0], 1))[:, 0]
    phi = np.broadcast_to(np.reshape(np.asarray(phi, float), (-1, 1)), (shocks.shape[0], 1))[:, 0]
    u = np.empty_like(shocks)
    u[:, 0] = sigma / np.sqrt(1 - phi**2) * shocks[:, 0]
    for j in range(1, shocks.shape[1]):
        u[:, j] = phi * u[:, j - 1] + sigma * shocks[:, j]
    return u
