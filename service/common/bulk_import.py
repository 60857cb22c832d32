"""The all-or-nothing import of rows that name a GPU model and a currency: the one flow of the
asset and observation imports (:func:`import_rows`), and the one way of naming a model or a
currency that the registry does not know, for raw rows and validated ones alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from service.common.bulk import RawRow, refuse_if_any, validate_rows
from service.db import mark_data_changed
from service.errors import FieldError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What the rows of an import may name: the GPU models that exist among some slugs, and the
    currencies that have FX rates. Read only when a row needs them."""

    existing_models: Callable[[set[str]], set[str]]
    known_currencies: Callable[[], set[str]]


def unknown_references(
    model: str | None,
    currency: str | None,
    *,
    models: set[str],
    currencies: set[str],
    line: int | None = None,
    prefix: str = "",
) -> list[FieldError]:
    """A model not among ``models``, a currency not among ``currencies`` (``None``: not
    given, nothing to check), as the errors of one row under ``prefix``."""
    errors: list[FieldError] = []
    if model is not None and model not in models:
        errors.append(
            FieldError(field=prefix + "model", reason=f"unknown GPU model {model!r}", line=line)
        )
    if currency is not None and currency not in currencies:
        errors.append(
            FieldError(
                field=prefix + "currency",
                reason=f"no FX rates for {currency}; known: {', '.join(sorted(currencies))}",
                line=line,
            )
        )
    return errors


class NamesReferences(Protocol):
    """A validated row that names a GPU model and a currency."""

    @property
    def model(self) -> str: ...

    @property
    def currency(self) -> str: ...


def catalogue_errors(
    items: Sequence[tuple[int | None, NamesReferences]],
    catalogue: Catalogue,
    *,
    prefix: str = "",
) -> list[FieldError]:
    """Unknown models and currencies among validated rows, each under ``prefix``."""
    models = catalogue.existing_models({item.model for _, item in items})
    currencies = catalogue.known_currencies()
    return [
        error
        for line, item in items
        for error in unknown_references(
            item.model,
            item.currency,
            models=models,
            currencies=currencies,
            line=line,
            prefix=prefix,
        )
    ]


def reference_errors(
    rows: Sequence[tuple[int, dict[str, Any]]],
    *,
    existing_models: Callable[[set[str]], set[str]],
    currencies: set[str],
) -> list[FieldError]:
    """Unknown models and currencies among raw rows (``model``, ``currency``), read as the
    schema reads them (slugs in lower case, codes in upper case)."""
    models = {v.lower() for _, d in rows if isinstance(v := d.get("model"), str)}
    known = existing_models(models) if models else set()
    errors: list[FieldError] = []
    for line, data in rows:
        model, currency = data.get("model"), data.get("currency")
        errors += unknown_references(
            model.lower() if isinstance(model, str) else None,
            currency.upper() if isinstance(currency, str) else None,
            models=known,
            currencies=currencies,
            line=line,
        )
    return errors


def import_rows(
    session: Session,
    rows: Sequence[RawRow],
    schema: type[M],
    *,
    catalogue: Catalogue,
    check: Callable[[list[tuple[int, M]]], list[FieldError]],
    insert: Callable[[list[M]], None],
    on_row: Callable[[], None] | None = None,
    evidence: bool = True,
) -> int:
    """All-or-nothing import of rows that name a GPU model and a currency; returns how many
    were written.

    Every row is validated against ``schema`` (a ``model_slug`` column is read as ``model``),
    and the rows it refuses are still checked against the ``catalogue``, so each bad row is
    named with all its problems; ``check`` then judges the valid rows together (cross-checks,
    duplicates, rows already stored). One problem anywhere and nothing is written; otherwise
    ``insert`` writes them all and the data version moves (and the evidence version, unless
    the rows are not ``evidence`` of the market, as a fleet's assets are not).
    """
    good, errors = validate_rows(
        rows,
        schema,
        rename={"model_slug": "model"},
        on_row=on_row,
        check_invalid=lambda invalid: reference_errors(
            invalid,
            existing_models=catalogue.existing_models,
            currencies=catalogue.known_currencies(),
        ),
    )
    errors.extend(check(good))
    refuse_if_any(errors, "import")
    insert([item for _, item in good])
    mark_data_changed(session, evidence=evidence)
    return len(good)
