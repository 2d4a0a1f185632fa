"""Frozen adoption fits: the fast test tier runs no NUTS fit.

Every hierarchical fit the shipped config makes (the calibration and each backtest's leave-one-family-out fit)
is stored in tests/fixtures/adoption/<panel key>/ as Parquet draws and its diagnostics. In the fast tier
``HierarchicalAdoption.fit`` is replaced by :func:`frozen_fit`, which serves the stored fit of the same shape
and panel, and fails the test for any other panel: a fast test that would start a sampler fails instead.

When the reference data or the model change, re-freeze them (one NUTS run of each, about a minute):

    .venv/bin/python -m tests.frozen_fits
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from models.adoption import AnalogPanel, HierarchicalAdoption

FROZEN = Path(__file__).parent / "fixtures" / "adoption"
THIN = 3  # every third draw is kept: the fixtures stay small, and the draws are still a posterior sample
_REAL_FIT = HierarchicalAdoption.fit


class NutsInFastTier(AssertionError):
    """A fast test tried to start a NUTS fit."""


def panel_key(model: HierarchicalAdoption, panel: AnalogPanel) -> str:
    """The shape, sampler settings and the panel's data (to 12 significant figures)."""
    h = hashlib.sha256(repr((model.shape, model.warmup, model.samples, model.chains, model.seed)).encode())
    h.update(",".join(panel.names).encode())
    for array in (panel.t, panel.gap, panel.log_share, panel.mask):
        h.update(np.array2string(np.asarray(array, float), precision=12, threshold=10**6).encode())
    return h.hexdigest()[:20]


def frozen_fit(self: HierarchicalAdoption, panel: AnalogPanel) -> HierarchicalAdoption:
    """``HierarchicalAdoption.fit`` served from the frozen fixtures."""
    folder = FROZEN / panel_key(self, panel)
    if not folder.is_dir():
        raise NutsInFastTier(
            f"the fast tier runs no NUTS fit: no frozen fit for shape {self.shape}, analogs {panel.names} "
            f"(key {folder.name}); mark the test slow, or re-freeze with `python -m tests.frozen_fits`"
        )
    self.population_ = pd.read_parquet(folder / "population.parquet")
    self.analogs_ = pd.read_parquet(folder / "analogs.parquet")
    self.hyper_ = pd.read_parquet(folder / "hyper.parquet")
    stored = json.loads((folder / "diagnostics.json").read_text())
    self.diagnostics_, self.converged_ = stored["diagnostics"], stored["converged"]
    return self


def _freezing_fit(self: HierarchicalAdoption, panel: AnalogPanel) -> HierarchicalAdoption:
    _REAL_FIT(self, panel)
    folder = FROZEN / panel_key(self, panel)
    folder.mkdir(parents=True, exist_ok=True)
    keep = dict(index=False, compression="zstd")
    self.population_.iloc[::THIN].to_parquet(folder / "population.parquet", **keep)
    self.analogs_[self.analogs_.draw % THIN == 0].to_parquet(folder / "analogs.parquet", **keep)
    self.hyper_.iloc[::THIN].to_parquet(folder / "hyper.parquet", **keep)
    diagnostics = {k: (v.item() if hasattr(v, "item") else v) for k, v in self.diagnostics_.items()}
    stored = {"diagnostics": diagnostics, "converged": bool(self.converged_)}
    (folder / "diagnostics.json").write_text(json.dumps(stored, indent=1))
    return self


def freeze() -> list[str]:
    """Fit (for real) every panel the tests' configuration fits, and store each fit."""
    import shutil

    from keicast import steps
    from keicast.config import load_settings
    from keicast.yamlfile import dump_yaml
    from tests.conftest import base_config

    shutil.rmtree(FROZEN, ignore_errors=True)
    HierarchicalAdoption.fit = _freezing_fit
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = base_config(Path(tmp))
            config["calibration"]["cache_dir"] = str(Path(tmp) / "cache")  # every fit for real
            path = Path(tmp) / "config.yaml"
            path.write_text(dump_yaml(config))
            settings = load_settings(path)
            evidence = steps.load_evidence(settings)
            steps.calibrate(evidence.history, settings)
            steps.backtest_adoption_chain(evidence.history, settings)
    finally:
        HierarchicalAdoption.fit = _REAL_FIT
    return sorted(p.name for p in FROZEN.iterdir())


if __name__ == "__main__":
    print("\n".join(freeze()))
