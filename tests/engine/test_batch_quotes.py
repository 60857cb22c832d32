"""A batch's memoising quoter answers exactly what ``quote`` answers, item by item."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from service.engine import Assumptions, EngineInputError, quote
from service.engine.batch import Quoter, with_gpus
from service.reference import calibration

AS_OF = date(2026, 6, 30)


def test_every_derived_quote_equals_a_fresh_one() -> None:
    cal = calibration(AS_OF)
    quoter = Quoter()
    specs = [s for s in cal.models.values() if s.release_date <= AS_OF][:4]
    cheaper = Assumptions(discount_rate=0.09)
    cases = itertools.product(
        specs, ("on_demand", "spot", "1y"), (1, 8, 64, 8), (None, 14.5), (None, cheaper)
    )
    for spec, term, gpus, age, assumptions in cases:
        kwargs = {"term": term, "as_of": AS_OF, "age_months": age, "gpus": gpus}
        got = quoter.quote(cal, spec, assumptions=assumptions, **kwargs)  # type: ignore[arg-type]
        assert got == quote(cal, spec, assumptions=assumptions, **kwargs)  # type: ignore[arg-type]
    # one engine quote per distinct rate: 4 specs × 3 terms × 2 ages × 2 assumption sets
    assert quoter.computed == 4 * 3 * 2 * 2


def test_a_bad_gpu_count_is_refused_as_quote_refuses_it() -> None:
    cal = calibration(AS_OF)
    spec = next(s for s in cal.models.values() if s.release_date <= AS_OF)
    quoter = Quoter()
    quoter.quote(cal, spec, term="on_demand", as_of=AS_OF)
    with pytest.raises(EngineInputError) as refused:
        quoter.quote(cal, spec, term="on_demand", as_of=AS_OF, gpus=0)
    assert refused.value.field == "gpus"


def test_a_sibling_is_the_quote_for_its_gpu_count() -> None:
    """The fields a sibling derives (count, total rate, digest from a template) are those of a
    fresh quote for that count, what-ifs and all."""
    cal = calibration(AS_OF)
    quoter = Quoter()
    specs = [s for s in cal.models.values() if s.release_date <= AS_OF][:3]
    whatifs = [
        (None, None, None, None),
        (True, None, "neocloud", None),
        (False, False, None, None),
    ]
    for spec, term, (fp8, fp4, segment, provider) in itertools.product(
        specs, ("on_demand", "3y"), whatifs
    ):
        asked = {"fp8": fp8, "fp4": fp4, "segment": segment, "provider": provider}
        base = quote(cal, spec, term=term, as_of=AS_OF, gpus=2, **asked)  # type: ignore[arg-type]
        for gpus in (1, 2, 7, 64, 4096):
            fresh = quote(cal, spec, term=term, as_of=AS_OF, gpus=gpus, **asked)  # type: ignore[arg-type]
            got = quoter.sibling(cal, base, spec, gpus, fp8, fp4, segment, provider)
            assert got == (fresh.gpus, fresh.rate_total_per_hour, fresh.inputs_digest)
            assert with_gpus(cal, base, spec, gpus, fp8, fp4, segment, provider) == fresh
        with pytest.raises(EngineInputError):
            quoter.sibling(cal, base, spec, 0, fp8, fp4, segment, provider)
