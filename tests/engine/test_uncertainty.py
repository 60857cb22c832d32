"""How wide the engine's bands are, and why: robust between-model spread, level uncertainty."""

from __future__ import annotations

from datetime import date

import numpy as np

from service.engine import residual
from service.engine.prior import COLUMNS, TAU_FLOOR, fit_cross_section
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
