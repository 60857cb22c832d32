"""Formatting of the engine's backtest report: a plain-text table and JSON."""

from __future__ import annotations

import math
from typing import Any

from service.engine import BacktestReport, ErrorStats
from service.engine.backtest import METHODS


def _cell(value: float) -> str:
    return f"{value:6.1f}" if math.isfinite(value) else f"{'—':>6}"


def _row(label: str, stats: ErrorStats) -> str:
    cells = "  ".join(f"{_cell(stats.mdape[m])} {_cell(stats.mape[m])}" for m in METHODS)
    return f"{label:<26} {stats.n:>6}  {cells}"


def as_table(report: BacktestReport) -> str:
    """MdAPE / MAPE (%) per segment, the engine beside the baselines that see the same history;
    then 80% band coverage and the ``all`` segment by model."""
    head = f"{'':<26} {'n':>6}  " + "  ".join(f"{m:^13}" for m in METHODS)
    sub = f"{'':<26} {'':>6}  " + "  ".join(f"{'MdAPE':>6} {'MAPE':>6}" for _ in METHODS)
    lines = [
        f"walk-forward backtest of /quote and /residual from {report.start.isoformat()}, "
        f"{len(report.origins)} quarterly origins",
        head,
        sub,
    ]
    lines += [_row(name, stats) for name, stats in report.segments.items()]
    lines.append(
        "80% band coverage: " + ", ".join(f"{k} {v:.0%}" for k, v in report.coverage.items())
    )
    lines.append("all, by model:")
    lines += [_row(f"  {name}", stats) for name, stats in report.by_model.items()]
    return "\n".join(lines)


def _stats(stats: ErrorStats) -> dict[str, Any]:
    clean = {m: v for m, v in stats.mdape.items() if math.isfinite(v)}
    return {
        "n": stats.n,
        "mdape": clean,
        "mape": {m: v for m, v in stats.mape.items() if math.isfinite(v)},
    }


def as_json(report: BacktestReport) -> dict[str, Any]:
    return {
        "start": report.start.isoformat(),
        "origins": [o.isoformat() for o in report.origins],
        "segments": {k: _stats(v) for k, v in report.segments.items()},
        "coverage": report.coverage,
        "by_model": {k: _stats(v) for k, v in report.by_model.items()},
    }
