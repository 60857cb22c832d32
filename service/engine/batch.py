"""Many quotes on one calibration at once: each distinct rate computed once.

A batch of quotes repeats itself: the same model, date, age, assumptions and term for
different numbers of GPUs, or the same request twice. The rate per GPU-hour, its band and its
components do not depend on the number of GPUs (``rate_total_per_hour = rate × gpus``; module
doc of :mod:`service.engine.valuation`), so :class:`Quoter` computes one :func:`quote` per
distinct (spec, date, age, assumptions, what-if, level, term) and derives the others from it:
the GPU count, the total rate and the inputs digest (which names the GPU count) are the only
fields that differ. The digest's canonical JSON is written once per distinct quote with a
marker where the GPU count goes (:class:`GpuDigests`), so a sibling costs a hash, not a
serialisation. The tests compare every derived quote with :func:`quote` itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, replace
from datetime import date
from typing import Any, NamedTuple

from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration
from service.engine.digest import inputs_digest
from service.engine.types import ModelSpec, Term
from service.engine.valuation import Quote, _check, quote
from service.engine.version import ENGINE_VERSION

__all__ = ["GpuDigests", "Quoter", "Sibling", "with_gpus"]

_SPEC_FIELDS = tuple(f.name for f in fields(ModelSpec))
_DEFAULTS = Assumptions()
_MARK = -7_340_116_254_902_381  # a GPU count no request has: where the count goes


class Sibling(NamedTuple):
    """What differs between a quote and the same quote for another GPU count."""

    gpus: int
    rate_total_per_hour: float
    inputs_digest: str


class Quoter:
    """Quotes memoised by everything but the GPU count (for one batch: it keeps every
    calibration it saw alive, and every answer)."""

    def __init__(self) -> None:
        self.computed = 0
        self._calibrations: dict[int, Calibration] = {}
        self._base: dict[tuple[Any, ...], Quote] = {}
        self._answers: dict[tuple[Any, ...], Quote] = {}
        self._digests: dict[tuple[Any, ...], GpuDigests] = {}

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
            digests = self._digests_of(cal, base, spec, fp8, fp4, segment, provider)
            answer = with_gpus(cal, base, spec, gpus, fp8, fp4, segment, provider, digests=digests)
        self._answers[key] = answer
        return answer

    def sibling(
        self,
        cal: Calibration,
        base: Quote,
        spec: ModelSpec,
        gpus: int,
        fp8: bool | None,
        fp4: bool | None,
        segment: str | None,
        provider: str | None,
    ) -> Sibling:
        """The fields of :func:`with_gpus` that differ from ``base``, without building the
        quote; the digest written once per ``base`` and what-ifs."""
        if gpus == base.gpus:
            return Sibling(base.gpus, base.rate_total_per_hour, base.inputs_digest)
        _check(base.term, gpus)
        digests = self._digests_of(cal, base, spec, fp8, fp4, segment, provider)
        return Sibling(gpus, base.rate_per_gpu_hour * gpus, digests(gpus))

    def _digests_of(
        self,
        cal: Calibration,
        base: Quote,
        spec: ModelSpec,
        fp8: bool | None,
        fp4: bool | None,
        segment: str | None,
        provider: str | None,
    ) -> GpuDigests:
        self._calibrations.setdefault(id(cal), cal)
        key = (id(cal), id(base), spec, fp8, fp4, segment, provider)  # both kept alive
        digests = self._digests.get(key)
        if digests is None:
            digests = self._digests[key] = GpuDigests(cal, base, spec, fp8, fp4, segment, provider)
        return digests


class GpuDigests:
    """The inputs digest of ``base`` (a quote of ``spec`` on ``cal``) for any GPU count, equal
    to the one :func:`quote` gives: the canonical JSON is written once with a marker for the
    count, and each count only fills it in (the JSON of an integer is its decimal)."""

    def __init__(
        self,
        cal: Calibration,
        base: Quote,
        spec: ModelSpec,
        fp8: bool | None,
        fp4: bool | None,
        segment: str | None,
        provider: str | None,
    ) -> None:
        self._payload = (cal, base, spec, fp8, fp4, segment, provider)
        blob = json.dumps(
            _payload(cal, base, spec, _MARK, fp8, fp4, segment, provider),
            default=str,
            sort_keys=True,
            separators=(",", ":"),
        )
        parts = blob.split(f'"gpus":{_MARK}')
        self._parts: tuple[str, str] | None = None
        if len(parts) == 2 and str(_MARK) not in "".join(parts):
            self._parts = (parts[0] + '"gpus":', parts[1])
            # written as :func:`inputs_digest` writes it, or each one is written whole
            if self(base.gpus) != self._whole(base.gpus):
                self._parts = None

    def __call__(self, gpus: int) -> str:
        if self._parts is None or type(gpus) is not int:
            return self._whole(gpus)
        head, tail = self._parts
        return hashlib.sha256(f"{head}{gpus}{tail}".encode()).hexdigest()

    def _whole(self, gpus: int) -> str:
        cal, base, spec, fp8, fp4, segment, provider = self._payload
        return inputs_digest(_payload(cal, base, spec, gpus, fp8, fp4, segment, provider))


def with_gpus(
    cal: Calibration,
    base: Quote,
    spec: ModelSpec,
    gpus: int,
    fp8: bool | None,
    fp4: bool | None,
    segment: str | None,
    provider: str | None,
    *,
    digests: GpuDigests | None = None,
) -> Quote:
    """``base`` (a quote of ``spec`` on ``cal``) for ``gpus`` GPUs: what :func:`quote` answers
    with the same arguments and that GPU count (``digests``, when given, are ``base``'s)."""
    if gpus == base.gpus:
        return base
    _check(base.term, gpus)
    digest = (
        digests(gpus)
        if digests is not None
        else inputs_digest(_payload(cal, base, spec, gpus, fp8, fp4, segment, provider))
    )
    return replace(
        base,
        gpus=gpus,
        rate_total_per_hour=base.rate_per_gpu_hour * gpus,
        inputs_digest=digest,
    )


def _payload(
    cal: Calibration,
    base: Quote,
    spec: ModelSpec,
    gpus: int,
    fp8: bool | None,
    fp4: bool | None,
    segment: str | None,
    provider: str | None,
) -> dict[str, Any]:
    """What :func:`quote` digests for ``base``'s arguments with ``gpus`` GPUs."""
    request = {
        "kind": "quote",
        "term": base.term,
        "gpus": gpus,
        "fp8": fp8,
        "fp4": fp4,
        "segment": segment,
        "provider": provider,
    }
    return {
        "engine_version": ENGINE_VERSION,
        "data": cal.fingerprint,
        "spec": {name: getattr(spec, name) for name in _SPEC_FIELDS},
        "request": request | {"as_of": base.as_of.isoformat(), "age_months": base.age_months},
        "assumptions": base.assumptions,
    }
