"""Formatting of the engine's backtest report: a plain-text table and JSON."""

from __future__ import annotations

from typing import Any

from service.engine import BacktestReport, ErrorStats

METHODS = ("engine", "last_price", "median_12m")


def _row(label: str, stats: ErrorStats) -> str:
    cells = "  ".join(f"{stats.mdape[m]:6.1f} {stats.mape[m]:6.1f}" for m in METHODS)
    return f"{label:<34} {stats.n:>6}  {cells}"


def as_table(report: BacktestReport) -> str:
    """Median / mean absolute percentage error by group, engine beside both baselines."""
    head = f"{'':<34} {'n':>6}  " + "  ".join(f"{m:^13}" for m in METHODS)
    sub = f"{'':<34} {'':>6}  " + "  ".join(f"{'MdAPE':>6} {'MAPE':>6}" for _ in METHODS)
    lines = [
        f"walk-forward backtest from {report.start.isoformat()}, "
        f"{len(report.origins)} quarterly origins",
        head,
        sub,
        _row("overall", report.overall),
    ]
    for title, groups in (
        ("kind", report.by_kind),
        ("regime", report.by_regime),
        ("horizon", report.by_horizon),
        ("model", report.by_model),
    ):
        lines.append(f"by {title}:")
        lines.extend(_row(f"  {name}", stats) for name, stats in sorted(groups.items()))
    return "\n".join(lines)


def _stats(stats: ErrorStats) -> dict[str, Any]:
    return {"n": stats.n, "mdape": stats.mdape, "mape": stats.mape}


def as_json(report: BacktestReport) -> dict[str, Any]:
    return {
        "start": report.start.isoformat(),
        "origins": [o.isoformat() for o in report.origins],
        "overall": _stats(report.overall),
        "by_kind": {k: _stats(v) for k, v in report.by_kind.items()},
        "by_regime": {k: _stats(v) for k, v in report.by_regime.items()},
        "by_horizon": {k: _stats(v) for k, v in report.by_horizon.items()},
        "by_model": {k: _stats(v) for k, v in report.by_model.items()},
    }
