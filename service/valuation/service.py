"""Load inputs, call the engine, shape the answer. Never writes."""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from service import engine
from service.common.clock import today as today  # the routers ask `service.today()`
from service.db import current_data_version, read_versions
from service.engine.answers import PathPoint
from service.errors import FieldError, InvalidInput, NotFound
from service.valuation import repository
from service.valuation.cache import CalibrationCache
from service.valuation.schemas import (
    FxUsed,
    InlineSpec,
    Provenance,
    QuoteRead,
    ResidualRead,
)

if TYPE_CHECKING:  # the edge hands the metrics in; services do not import it
    from service.observability import Metrics

log = logging.getLogger("service.valuation")
ASSUMPTION_NAMES = frozenset(spec.name for spec in engine.ASSUMPTIONS)


@dataclass(frozen=True, slots=True)
class Context:
    """What one answer is computed from: the calibration, the stored defaults, the version."""

    calibration: engine.Calibration
    defaults: Mapping[str, float]
    data_version: int
    evidence_on: date
    known_at: datetime | None


@dataclass(slots=True)
class Valuer:
    """Per-process valuation state: the calibration cache and the metrics it reports to."""

    cache: CalibrationCache
    metrics: Metrics

    def context(self, session: Session, *, as_of: date, known_at: datetime | None) -> Context:
        """The calibration and defaults for an answer: one query (the data version) when warm."""
        version = current_data_version(session)
        evidence = self._evidence_version(session, version)
        evidence_on = self._evidence_on(session, evidence, as_of, known_at)
        _engine_call(engine.projection_months, evidence_on, as_of)  # 422 naming the last date

        def fit() -> engine.Calibration:
            return engine.calibrate(
                repository.models(session),
                repository.observations(session, as_of=evidence_on, known_at=known_at),
                repository.fx_rates(session),
                repository.frontier(session),
                as_of=evidence_on,
                known_at=known_at,
            )

        try:
            entry = self.cache.get((evidence, evidence_on, known_at), fit)
        except engine.CalibrationUnavailable as exc:
            first = repository.nth_lease_date(session, n=exc.needed, known_at=known_at)
            when = f" Answers are available from {first.isoformat()}." if first else ""
            raise InvalidInput(
                f"Too little market evidence on or before {as_of.isoformat()} to calibrate: "
                f"{exc.seen} lease observations, {exc.needed} needed.{when}",
                errors=[
                    FieldError(field="as_of", reason=_first_date(first, "not enough evidence yet"))
                ],
            ) from exc
        self.metrics.calibration_seconds.set(entry.seconds)
        self.metrics.data_version.set(version)
        defaults = self.cache.memo(
            ("defaults", evidence), lambda: repository.assumption_values(session)
        )
        return Context(entry.calibration, defaults, version, evidence_on, known_at)

    def warm(self, sessions: sessionmaker[Session], as_of: date) -> None:
        """Calibrate for ``as_of`` ahead of the first request (a background thread at start-up);
        a failure only means the first request calibrates instead."""
        try:
            with sessions() as session:
                self.context(session, as_of=as_of, known_at=None)
        except Exception:
            log.warning(
                "warm-up calibration failed; the first request will calibrate", exc_info=True
            )

    def _evidence_version(self, session: Session, version: int) -> int:
        """The evidence version at data version ``version``: read once per data version (an
        asset write moves the data version but not the evidence, so calibrations stay)."""
        known = self.cache.memo_get(("evidence_version", version))
        if known is not None:
            return int(known)
        seen, evidence = read_versions(session)
        if seen == version:  # the session sees the version the tracker vouched for
            self.cache.memo(("evidence_version", version), lambda: evidence)
        return evidence

    def _evidence_on(
        self, session: Session, version: int, as_of: date, known_at: datetime | None
    ) -> date:
        def latest() -> date | None:
            return repository.latest_observation_on(session, as_of=as_of, known_at=known_at)

        key = ("evidence_on", version, as_of, known_at)
        evidence_on: date | None = self.cache.memo(key, latest)
        if evidence_on is None:
            first = repository.nth_lease_date(
                session, n=engine.MIN_LEASE_OBSERVATIONS, known_at=known_at
            )
            when = f" Answers are available from {first.isoformat()}." if first else ""
            raise InvalidInput(
                f"No market observations on or before {as_of.isoformat()}"
                + (f" recorded by {known_at.isoformat()}" if known_at else "")
                + f"; choose a later as_of.{when}",
                errors=[
                    FieldError(field="as_of", reason=_first_date(first, "no observations yet"))
                ],
            )
        return evidence_on


def assumptions_for(ctx: Context, overrides: Mapping[str, float]) -> engine.Assumptions:
    unknown = sorted(set(overrides) - ASSUMPTION_NAMES)
    if unknown:
        raise InvalidInput(
            "Unknown assumptions.",
            errors=[
                FieldError(
                    field=f"assumptions.{n}", reason="not an assumption; see GET /assumptions"
                )
                for n in unknown
            ],
        )
    stored = {k: v for k, v in ctx.defaults.items() if k in ASSUMPTION_NAMES}
    try:
        return engine.Assumptions.from_mapping({**stored, **overrides})
    except ValueError as exc:
        raise InvalidInput(
            str(exc), errors=[FieldError(field="assumptions", reason=str(exc))]
        ) from exc


def spec_for(ctx: Context, model: str | None, inline: InlineSpec | None) -> engine.ModelSpec:
    if inline is not None:
        return engine.ModelSpec(
            **inline.model_dump(),
            fp8=inline.fp8_tflops > 0,
            fp4=inline.fp4_tflops > 0,
        )
    assert model is not None
    spec = ctx.calibration.models.get(model)
    if spec is None:
        raise NotFound(f"No GPU model with slug {model!r}.")
    return spec


def _fx(ctx: Context, currency: str, as_of: date) -> engine.Converted | None:
    if currency == "USD":
        return None
    try:
        return engine.convert(1.0, currency, as_of, ctx.calibration.fx)
    except ValueError as exc:
        known = ", ".join(sorted(ctx.calibration.fx.currencies))
        raise InvalidInput(
            f"No FX rates for {currency}; known: {known}.",
            errors=[FieldError(field="currency", reason=f"unsupported; known: {known}")],
        ) from exc


def _provenance(ctx: Context, fx: engine.Converted | None) -> Provenance:
    used = None
    if fx is not None:
        used = FxUsed(
            currency=fx.currency,
            usd_per_unit=fx.usd_per_unit,
            month_used=fx.month_used,
            extrapolated=fx.extrapolated,
        )
    return Provenance(
        data_version=ctx.data_version, calibrated_on=ctx.evidence_on, known_at=ctx.known_at, fx=used
    )


def fx_for(ctx: Context, currency: str, as_of: date) -> engine.Converted | None:
    """The conversion of an answer to ``currency`` (None for USD); an unknown one is a 422."""
    return _fx(ctx, currency, as_of)


def answer_digest(engine_digest: str, fx: engine.Converted | None) -> str:
    """The inputs digest of an answer: the engine's, with the FX rate when converted."""
    return _digest(engine_digest, fx)


def _digest(engine_digest: str, fx: engine.Converted | None) -> str:
    if fx is None:
        return engine_digest
    text = f"{engine_digest}|{fx.currency}|{fx.usd_per_unit!r}|{fx.month_used}"
    return hashlib.sha256(text.encode()).hexdigest()


def _first_date(first: date | None, otherwise: str) -> str:
    """The reason an ``as_of`` is too early: the first date with enough evidence, if any."""
    if first is None:
        return otherwise
    return f"Answers are available from {first.isoformat()}, the first date with enough evidence."


def _engine_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The engine names the input it cannot price (:class:`engine.EngineInputError`): 422 on
    that field. Any other exception is a bug and is left to the server-error handler."""
    try:
        return fn(*args, **kwargs)
    except engine.EngineInputError as exc:
        raise InvalidInput(
            exc.reason, errors=[FieldError(field=exc.field, reason=exc.reason)]
        ) from exc


def quote(
    ctx: Context,
    spec: engine.ModelSpec,
    *,
    as_of: date,
    term: str,
    gpus: int,
    age_months: float | None,
    fp8: bool | None,
    fp4: bool | None,
    currency: str,
    overrides: Mapping[str, float],
    segment: str | None = None,
    provider: str | None = None,
    quoter: Callable[..., engine.Quote] | None = None,
) -> QuoteRead:
    """``quoter`` stands in for :func:`engine.quote` (a batch's memoising quoter)."""
    a = assumptions_for(ctx, overrides)
    fx = _fx(ctx, currency, as_of)
    q: engine.Quote = _engine_call(
        quoter or engine.quote,
        ctx.calibration,
        spec,
        term=term,
        as_of=as_of,
        age_months=age_months,
        gpus=gpus,
        assumptions=a,
        fp8=fp8,
        fp4=fp4,
        segment=segment,
        provider=provider,
    )
    return QuoteRead.model_validate(
        {
            **_in_currency(q, _usd_to(fx)),
            "currency": currency,
            "components": _finite(q.components),
            "inputs_digest": _digest(q.inputs_digest, fx),
            "provenance": _provenance(ctx, fx),
        },
        from_attributes=True,
    )


def residual(
    ctx: Context,
    spec: engine.ModelSpec,
    *,
    as_of: date,
    age_months: float | None,
    premise: str,
    fp8: bool | None,
    fp4: bool | None,
    currency: str,
    include_curve: bool,
    overrides: Mapping[str, float],
    include_path: bool = False,
) -> ResidualRead:
    a = assumptions_for(ctx, overrides)
    fx = _fx(ctx, currency, as_of)
    r: engine.Residual = _engine_call(
        engine.residual,
        ctx.calibration,
        spec,
        as_of=as_of,
        age_months=age_months,
        premise=premise,
        assumptions=a,
        fp8=fp8,
        fp4=fp4,
        include_curve=include_curve,
        include_path=include_path,
    )
    k = _usd_to(fx)
    fields = _in_currency(r, k)
    return ResidualRead.model_validate(
        {
            **fields,
            "currency": currency,
            "approaches": {**_in_currency(r.approaches, k), "reconciled": fields["reconciled"]},
            "components": _finite(r.components),
            "inputs_digest": _digest(r.inputs_digest, fx),
            "provenance": _provenance(ctx, fx),
        },
        from_attributes=True,
    )


# The amounts of money (and rates) in each engine answer, all in USD; ``_in_currency`` converts
# these and nothing else. A field of an answer not listed here is the same in any currency.
_MONEY: dict[type, frozenset[str]] = {
    engine.Quote: frozenset(
        {"rate_per_gpu_hour", "rate_per_gpu_month", "rate_total_per_hour", "low", "high"}
    ),
    engine.Residual: frozenset({"value_per_gpu", "reference_price", "low", "high", "reconciled"}),
    engine.Approaches: frozenset({"income", "market", "cost"}),
    engine.CurvePoint: frozenset({"value_per_gpu", "income_value"}),
    PathPoint: frozenset({"value_per_gpu"}),
}


def _usd_to(fx: engine.Converted | None) -> float:
    """Units of the asked currency per USD (1 for USD)."""
    return 1.0 / fx.usd_per_unit if fx else 1.0


def _in_currency(answer: Any, k: float) -> dict[str, Any]:
    """The fields of an engine answer by name, its amounts of money times ``k`` (USD to the
    asked currency); the points of a curve or path are converted alike, other nested values
    (the projection) are left for the answer schema to read by attribute."""
    money = _MONEY[type(answer)]
    out: dict[str, Any] = {}
    for field in dataclasses.fields(answer):
        value = getattr(answer, field.name)
        if field.name in money and value is not None:
            value = value * k
        elif isinstance(value, tuple) and all(type(v) in _MONEY for v in value):
            value = [_in_currency(v, k) for v in value]
        out[field.name] = value
    return out


def _months_later(start: date, months: int) -> date:
    """``start`` moved ``months`` calendar months on, the day clamped to the month's end."""
    year, month0 = divmod(start.year * 12 + start.month - 1 + months, 12)
    month = month0 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def months_in_service(in_service_on: date, as_of: date) -> float:
    """Age in months of a unit in service since ``in_service_on``, on ``as_of`` (0 before).

    Whole calendar months plus the elapsed fraction of the month under way, so an exact input
    gives an exact age (2018-04-15 → 2026-02-15 is 94.0, not 94.06 of 30.44-day months). The
    n-th monthly anniversary is ``in_service_on`` plus n calendar months with the day clamped
    to the month's end, each counted from ``in_service_on`` (not chained): 2018-04-30 reaches
    94 months on 2026-02-28, and a unit from 2024-01-31 is 1 month old on 2024-02-29 and 2 on
    2024-03-31. Between anniversaries the fraction is days elapsed over the days between them.
    ``/residual?in_service_on=`` and the fleet valuation both count ages here, so a fleet line
    equals ``/residual`` for the same asset.
    """
    if as_of <= in_service_on:
        return 0.0
    whole = (as_of.year - in_service_on.year) * 12 + as_of.month - in_service_on.month
    if _months_later(in_service_on, whole) > as_of:
        whole -= 1
    anniversary = _months_later(in_service_on, whole)
    following = _months_later(in_service_on, whole + 1)
    return whole + (as_of - anniversary).days / (following - anniversary).days


def age_from(*, as_of: date, age_months: float | None, in_service_on: date | None) -> float | None:
    """Age in months from an in-service date (:func:`months_in_service`), or the age given."""
    if age_months is not None and in_service_on is not None:
        raise InvalidInput(
            "Give age_months or in_service_on, not both.",
            errors=[FieldError(field="in_service_on", reason="conflicts with age_months")],
        )
    if in_service_on is None:
        return age_months
    if in_service_on > as_of:
        raise InvalidInput(
            "The unit is not in service yet on as_of.",
            errors=[FieldError(field="in_service_on", reason="after as_of")],
        )
    return months_in_service(in_service_on, as_of)


def _finite(components: Mapping[str, Any]) -> dict[str, Any]:
    """JSON has no infinities: report them as null (nested mappings too)."""
    return {k: _finite_value(v) for k, v in components.items()}


def _finite_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {k: _finite_value(x) for k, x in v.items()}
    return v
