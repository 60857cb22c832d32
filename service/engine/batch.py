"""Many quotes on one calibration at once: each distinct rate computed once.

A batch of quotes repeats itself: the same model, date, age, assumptions and term for
different numbers of GPUs, or the same request twice. The rate per GPU-hour, its band and its
components do not depend on the number of GPUs (``rate_total_per_hour = rate × gpus``; module
doc of :mod:`service.engine.valuation`), so :class:`Quoter` computes one :func:`quote` per
distinct (spec, date, age, assumptions, what-if, level, term) and derives the others from it:
the GPU count, the total rate and the inputs digest (which names the GPU count) are the only
fields that differ. The tests compare every derived quote with :func:`quote` itself.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from typing import Any

from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration
from service.engine.digest import inputs_digest
from service.engine.types import ModelSpec, Term
from service.engine.valuation import Quote, _check, quote
from service.engine.version import ENGINE_VERSION

__all__ = ["Quoter", "with_gpus"]

_SPEC_FIELDS = tuple(f.name for f in fields(ModelSpec))
_DEFAULTS = Assumptions()


class Quoter:
    """Quotes memoised by everything but the GPU count (for one batch: it keeps every
    calibration it saw alive, and every answer)."""

    def __init__(self) -> None:
        self.computed = 0
        self._calibrations: dict[int, Calibration] = {}
        self._base: dict[tuple[Any, ...], Quote] = {}
        self._answers: dict[tuple[Any, ...], Quote] = {}

    def quote(
        self,
        cal: Calibration,
        spec: ModelSpec,
        *,
        term: Term,
        as_of: date,
        age_months: float | None = None,
        gpus: int = 1,
        assumptions: Assumptions | None = None,
        fp8: bool | None = None,
        fp4: bool | None = None,
        segment: str | None = None,
        provider: str | None = None,
    ) -> Quote:
        """What :func:`service.engine.valuation.quote` answers for the same arguments."""
        a = assumptions or _DEFAULTS
        self._calibrations.setdefault(id(cal), cal)  # alive, so its id is not reused
        base_key = (id(cal), spec, term, as_of, age_months, a, fp8, fp4, segment, provider)
        key = (*base_key, gpus)
        hit = self._answers.get(key)
        if hit is not None:
            return hit
        base = self._base.get(base_key)
        if base is None:
            answer = quote(
                cal,
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
            self.computed += 1
            self._base[base_key] = answer
        else:
            answer = with_gpus(cal, base, spec, gpus, fp8, fp4, segment, provider)
        self._answers[key] = answer
        return answer


def with_gpus(
    cal: Calibration,
    base: Quote,
    spec: ModelSpec,
    gpus: int,
    fp8: bool | None,
    fp4: bool | None,
    segment: str | None,
    provider: str | None,
) -> Quote:
    """``base`` (a quote of ``spec`` on ``cal``) for ``gpus`` GPUs: what :func:`quote` answers
    with the same arguments and that GPU count."""
    if gpus == base.gpus:
        return base
    _check(base.term, gpus)
    request = {
        "kind": "quote",
        "term": base.term,
        "gpus": gpus,
        "fp8": fp8,
        "fp4": fp4,
        "segment": segment,
        "provider": provider,
    }
    digest = inputs_digest(
        {
            "engine_version": ENGINE_VERSION,
            "data": cal.fingerprint,
            "spec": {name: getattr(spec, name) for name in _SPEC_FIELDS},
            "request": request | {"as_of": base.as_of.isoformat(), "age_months": base.age_months},
            "assumptions": base.assumptions,
        }
    )
    return replace(
        base,
        gpus=gpus,
        rate_total_per_hour=base.rate_per_gpu_hour * gpus,
        inputs_digest=digest,
    )
