"""Totals of a fleet valuation, one per currency, in integer cents."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from service.valuation.fleet.lines import Lines

Ints = npt.NDArray[np.int64]

__all__ = ["CurrencyTotals", "Totals"]


@dataclass(slots=True)
class CurrencyTotals:
    """Sums of the lines in one currency; money in cents."""

    currency: str
    count: int = 0
    gpu_count: int = 0
    acquisition_cost: int = 0
    book_value: int = 0
    fair_value: int = 0
    difference: int = 0
    impaired: int = 0


@dataclass(slots=True)
class Totals:
    """Sums of the lines, one per currency (one only when a currency was requested)."""

    by: dict[str, CurrencyTotals] = field(default_factory=dict)

    def add(self, lines: Lines) -> None:
        if not len(lines):
            return
        columns = {
            "gpu_count": np.array(lines.assets.gpu_count, dtype=np.int64),
            "acquisition_cost": lines.acquisition_cost,
            "book_value": lines.book_value,
            "fair_value": lines.fair_value,
            "difference": lines.difference,
            "impaired": lines.impaired.astype(np.int64),
        }
        codes = sorted(set(lines.currency))
        currency = np.array(lines.currency) if len(codes) > 1 else None
        for code in codes:
            entry = self.by.get(code)
            if entry is None:
                entry = self.by[code] = CurrencyTotals(code)
            if currency is None:
                entry.count += len(lines)
                for name, column in columns.items():
                    setattr(entry, name, getattr(entry, name) + int(column.sum()))
                continue
            mask = currency == code
            entry.count += int(mask.sum())
            for name, column in columns.items():
                setattr(entry, name, getattr(entry, name) + int(column[mask].sum()))

    def add_columns(self, code: Ints, names: list[str], columns: dict[str, Ints]) -> None:
        """Sums of whole columns (the fields of :class:`CurrencyTotals`, integer cents), the
        currency of each entry given as ``names[code]``: one pass per currency present."""
        if not len(code):
            return
        for c in np.flatnonzero(np.bincount(code, minlength=len(names))).tolist():
            mask = code == c
            entry = self.by.get(names[c])
            if entry is None:
                entry = self.by[names[c]] = CurrencyTotals(names[c])
            entry.count += int(np.count_nonzero(mask))
            for name, column in columns.items():
                setattr(entry, name, getattr(entry, name) + int(column[mask].sum()))

    @property
    def count(self) -> int:
        return sum(t.count for t in self.by.values())

    @property
    def impaired(self) -> int:
        return sum(t.impaired for t in self.by.values())

    def by_currency(self) -> list[CurrencyTotals]:
        return [self.by[c] for c in sorted(self.by)]
