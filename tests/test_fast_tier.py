"""The fast tier (``pytest -m "not slow"``) runs no NUTS fit: it serves the frozen fits, and refuses any other."""

import numpy as np
import pandas as pd
import pytest

from models.adoption import AnalogPanel, HierarchicalAdoption

from .frozen_fits import FROZEN, NutsInFastTier, frozen_fit


def test_a_panel_without_a_frozen_fit_fails_instead_of_sampling():
    years = np.arange(2000, 2006)
    frame = pd.DataFrame({"series": "made_up", "year": years, "sales": 1.0 + years - 2000, "market": 1e6})
    with pytest.raises(NutsInFastTier, match="the fast tier runs no NUTS fit"):
        frozen_fit(HierarchicalAdoption("bass"), AnalogPanel.from_long(frame))


def test_the_frozen_fits_are_converged_posterior_samples():
    folders = sorted(FROZEN.iterdir())
    assert len(folders) >= 5  # the calibration and one fit per backtest family
    for folder in folders:
        population = pd.read_parquet(folder / "population.parquet")
        assert len(population) >= 1000 and (population.p > 0).all() and (population.phi < 1).all()


def test_the_fast_tier_replaces_the_sampler(request):
    if "not slow" not in (request.config.option.markexpr or ""):
        pytest.skip("the whole suite may fit for real")
    assert HierarchicalAdoption.fit is frozen_fit
