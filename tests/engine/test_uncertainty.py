"""How wide the engine's bands are, and why: robust between-model spread, level uncertainty."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from service.engine import residual
from service.engine.normalise import Normalised
from service.engine.prior import COLUMNS, TAU_FLOOR, fit_cross_section
from service.engine.sales import SaleFeatures, drift_variance
from service.engine.types import Observation
from service.reference import calibration, spec


def _cross_section(outlier: float) -> dict[str, tuple[np.ndarray, float, float]]:
    """Eight models on a line of log TFLOPS with small noise, and one far above it."""
    rng = np.random.default_rng(7)
    rows = {}
    for i in range(9):
        x = np.zeros(len(COLUMNS))
        x[0] = 1.0
        x[1] = -2.0 + 0.5 * i
        noise = float(rng.normal(0.0, 0.05)) if i < 8 else outlier
        rows[f"m{i}"] = (x, 0.5 * x[1] + noise, 0.03**2)
    return rows


def test_one_outlying_model_does_not_inflate_the_between_model_spread() -> None:
    calm = fit_cross_section(_cross_section(outlier=0.0))
    wild = fit_cross_section(_cross_section(outlier=1.5))
    assert calm.tau == TAU_FLOOR
    # the second moment of the residuals would give τ ≈ 0.5 here; the robust scale does not move
    assert wild.tau < 0.2


def test_a_value_band_is_wider_for_a_model_without_sales_of_its_own() -> None:
    """Same date and age: a part with many own sales (the L4) has a tighter relative band than
    one with none (the MI300X), whose price level new rests on peers."""
    cal = calibration(date(2026, 6, 30))
    assert cal.sales is not None
    traded = cal.sales.level_variance("nvidia-l4-24gb")
    untraded = cal.sales.level_variance("amd-mi300x-192gb")
    assert traded < untraded
    widths = {}
    for slug in ("nvidia-l4-24gb", "amd-mi300x-192gb"):
        r = residual(cal, spec(slug), as_of=date(2026, 6, 30), age_months=12)
        assert r.low < r.value_per_gpu < r.high
        widths[slug] = r.high / r.low
    assert widths["nvidia-l4-24gb"] < widths["amd-mi300x-192gb"]


def _walk(sd_per_year: float, seed: int) -> list[tuple[Normalised, SaleFeatures]]:
    """Forty monthly sale prices of each of five seller series, a Gaussian random walk in log
    price with ``sd_per_year`` a year around a flat path, at constant age (so the path's
    slopes contribute nothing)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(5):
        y = 8.0
        for month in range(40):
            y += float(rng.normal(0.0, sd_per_year * math.sqrt(1 / 12)))
            source = Observation(
                observed_on=date(2020, 1, 1), model_slug="m", kind="sale", price=math.exp(y),
                currency="USD",
            )  # fmt: skip
            n = Normalised(
                source, 2020 + month / 12, y, "p", False, False, False, False, False, False,
                False, 1.0,
            )  # fmt: skip
            features = SaleFeatures(
                log_reference=8.0, age_years=1.0, years_behind=0.0, condition="used",
                listing=True, system=False, commentary=False, consumer=False, model="m",
                series=f"m/{s}",
            )  # fmt: skip
            rows.append((n, features))
    return rows


@pytest.mark.parametrize("sd", [0.1, 0.3, 0.6])
def test_the_sale_drift_recovers_a_random_walks_variance(sd: float) -> None:
    estimates = [drift_variance(_walk(sd, seed), np.zeros(9)) for seed in range(5)]
    assert 0.8 * sd < math.sqrt(statistics.median(estimates)) < 1.25 * sd


def test_without_repeat_prices_the_drift_is_the_prior() -> None:
    one_each = [(n, replace(f, series=f"only/{i}")) for i, (n, f) in enumerate(_walk(0.3, 0))]
    assert drift_variance(one_each, np.zeros(9)) == 0.3**2


def test_a_stale_sale_level_widens_the_value_band() -> None:
    """The V100's last sale is older at a later date: its value band is wider in relative
    terms a year on, with everything else as fitted (same calibration)."""
    cal = calibration(date(2025, 7, 31))
    assert cal.sales is not None
    slug = "nvidia-v100-sxm2-32gb"
    assert cal.sales.staleness_variance(slug, 1.0) > cal.sales.staleness_variance(slug, 0.0) > 0
    assert cal.sales.staleness_variance("no-such-model", 1.0) == 0.0
    near = residual(cal, spec(slug), as_of=date(2025, 8, 1), age_months=0)
    far = residual(cal, spec(slug), as_of=date(2026, 7, 1), age_months=0)
    assert far.high / far.low > near.high / near.low
