"""The one AR(1) simulation of the house: the baseline market's forecast errors, the adoption path's yearly
deviations in the kernel, and the adoption backtests' predictive paths all draw from it.

Over a gap of g years the exact AR(1) transition is (Box & Jenkins 1970; the discretely observed Ornstein-Uhlenbeck
process)

    u_j = phi^g u_{j-1} + sigma sqrt((1 - phi^(2g)) / (1 - phi^2)) e_j,   e_j ~ N(0, 1),

which for a one-year gap is u_j = phi u_{j-1} + sigma e_j, computed exactly so.
"""

from __future__ import annotations

import numpy as np


def _per_draw(value, draws: int) -> np.ndarray:
    return np.broadcast_to(np.reshape(np.asarray(value, float), (-1, 1)), (draws, 1))[:, 0]


def ar1_paths(
    shocks: np.ndarray,
    sigma,
    phi,
    gaps: np.ndarray | float = 1.0,
    start: np.ndarray | float = 0.0,
    active: np.ndarray | None = None,
) -> np.ndarray:
    """AR(1) paths (draws, steps) from standard normal ``shocks`` (draws, steps).

    ``gaps`` are the years from one step to the next (from the ``start`` value for the first step); ``sigma`` and
    ``phi`` broadcast against (draws, 1). Where ``active`` (broadcast to ``shocks``) is false the path is 0 and
    the next active step starts from 0: a path that starts at zero the year before launch.
    """
    shocks = np.asarray(shocks, float)
    draws, steps = shocks.shape
    active = np.ones(shocks.shape, bool) if active is None else np.broadcast_to(active, shocks.shape)
    sigma, phi = _per_draw(sigma, draws), _per_draw(phi, draws)
    gaps = np.broadcast_to(np.asarray(gaps, float), (steps,))
    stationary = sigma / np.sqrt(1 - phi**2)
    u = np.zeros_like(shocks)
    prev = np.broadcast_to(np.asarray(start, float), (draws,)).copy()
    for j in range(steps):
        decay = phi ** gaps[j]
        scale = sigma if gaps[j] == 1 else stationary * np.sqrt(1 - decay**2)
        prev = np.where(active[:, j], decay * prev + scale * shocks[:, j], 0.0)
        u[:, j] = prev
    return u
