"""Start-up's background work: today's calibration, then the page's history dates, bounded,
stopped on shutdown; and the garbage collector paused by ``gpuval serve`` resumed."""

from __future__ import annotations

import gc
from datetime import date

import anyio
import pytest

from service.app import create_app
from service.common.clock import today
from service.state import resources
from service.ui import HISTORY_POINTS, history_warm_dates, quarter_start_before, quarters_back
from service.valuation.cache import CAPACITY
from tests.support import HGX_ASSET, make_client, settings_for

pytestmark = pytest.mark.anyio
H100 = "nvidia-h100-sxm5-80gb"


def page_history_dates(first_observed: date, as_of: date) -> list[date]:
    """``historyDates`` of ``static/page/app.js``, step for step, without the valuation date."""
    dates: list[date] = []
    index = first_observed.year * 4 + (first_observed.month - 1) // 3 + 1  # next quarter
    while (day := date(index // 4, index % 4 * 3 + 1, 1)) < as_of:
        dates.append(day)
        index += 1
    step = -(-len(dates) // (HISTORY_POINTS - 1)) or 1
    kept = [d for i, d in enumerate(dates) if (len(dates) - 1 - i) % step == 0]
    return kept[-(HISTORY_POINTS - 1) :]


def test_quarter_start_before_is_strictly_before() -> None:
    assert quarter_start_before(date(2026, 6, 30)) == date(2026, 4, 1)
    assert quarter_start_before(date(2026, 4, 1)) == date(2026, 1, 1)
    assert quarter_start_before(date(2026, 1, 1)) == date(2025, 10, 1)
    assert quarter_start_before(date(2026, 1, 2)) == date(2026, 1, 1)


@pytest.mark.parametrize("as_of", [date(2026, 6, 30), date(2026, 1, 1), date(2024, 11, 15)])
def test_the_warm_dates_cover_every_history_the_page_can_ask(as_of: date) -> None:
    warm = history_warm_dates(as_of)
    assert len(warm) == len(set(warm)) and all(d < as_of for d in warm)
    # The default model's dates (one step) first, most recent first.
    assert warm[: HISTORY_POINTS - 1] == sorted(warm[: HISTORY_POINTS - 1], reverse=True)
    assert warm[0] == quarter_start_before(as_of)
    for quarters in range(1, 40):  # a model first seen 1 to 39 quarters before as_of
        first = quarters_back(quarter_start_before(as_of), quarters)
        asked = page_history_dates(first, as_of)
        assert asked and set(asked) <= set(warm), (first, sorted(set(asked) - set(warm)))
    # Today's calibration and every warmed date fit in the cache together.
    assert len(warm) + 1 <= CAPACITY


async def test_start_up_warms_the_pages_history_after_today(db_url: str) -> None:
    app = create_app(settings_for(db_url, warm_calibration=True))
    state = resources(app)
    state.warm_history = True
    day = today()
    async with app.router.lifespan_context(app), make_client(app, None) as client:
        warming = state.warm_up
        assert warming is not None
        await anyio.to_thread.run_sync(warming.join)
        warmed = state.valuer.cache.calibrations
        assert warmed > 1  # today's and some past quarters' (the data start in 2018)
        for as_of in [day, *history_warm_dates(day)[:4]]:
            params = {"model": H100, "term": "on_demand", "as_of": as_of.isoformat()}
            assert (await client.get("/quote", params=params)).status_code == 200
        assert state.valuer.cache.calibrations == warmed  # all from the cache


async def test_shutdown_stops_the_warm_up(db_url: str) -> None:
    app = create_app(settings_for(db_url, warm_calibration=True))
    resources(app).warm_history = True
    async with app.router.lifespan_context(app):
        warming = resources(app).warm_up
    assert warming is not None and not warming.is_alive()
    assert resources(app).warm_up is None
    assert resources(app).valuer.cache.calibrations <= 1 + len(history_warm_dates(today()))


async def test_the_collector_paused_for_start_up_resumes_once_it_is_done(db_url: str) -> None:
    for warm in (True, False):
        app = create_app(settings_for(db_url, warm_calibration=warm))
        resources(app).resume_gc = True
        gc.disable()
        try:
            async with app.router.lifespan_context(app):
                with anyio.fail_after(120):
                    while not gc.isenabled():
                        await anyio.sleep(0.02)
            assert resources(app).resume_gc is False
        finally:
            gc.enable()
            gc.unfreeze()


async def test_start_up_values_todays_default_fleet_question_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After today's calibration the warm-up values the default question (whole fleet, market,
    own currencies): the first page a client asks sums nothing again, and says what a cold
    process says."""
    from service.valuation import fleet

    asset = HGX_ASSET
    cold_app = create_app(settings_for(db_url))
    async with cold_app.router.lifespan_context(cold_app), make_client(cold_app, "write") as w:
        for k in range(3):
            assert (await w.post("/assets", json={**asset, "tag": f"WARM-{k}"})).status_code == 201
        cold = (await w.get("/valuations", params={"limit": 2})).json()

    sums = 0
    summed = fleet.FleetValuation.totals

    def counting(self: fleet.FleetValuation, register: fleet.Register) -> fleet.Totals:
        nonlocal sums
        sums += 1
        return summed(self, register)

    monkeypatch.setattr(fleet.FleetValuation, "totals", counting)
    app = create_app(settings_for(db_url, warm_calibration=True))
    state = resources(app)
    async with app.router.lifespan_context(app), make_client(app, "read") as client:
        assert state.warm_up is not None
        await anyio.to_thread.run_sync(state.warm_up.join)
        assert sums == 1
        warm = (await client.get("/valuations", params={"limit": 2})).json()
        assert sums == 1  # the page's totals were the warm-up's
    assert warm == cold


@pytest.mark.parametrize("failure", ["refused", "broken"])
async def test_a_fleet_warm_up_that_fails_leaves_start_up_serving(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    """A question the service refuses (no rate for a currency) is for a page to say, quietly;
    anything else is logged; either way start-up goes on and quotes are served."""
    from service.errors import InvalidInput
    from service.valuation import fleet_router

    def fail(*_: object) -> None:
        if failure == "refused":
            raise InvalidInput("no rate for XYZ")
        raise RuntimeError("broken")

    monkeypatch.setattr(fleet_router, "warm", fail)
    app = create_app(settings_for(db_url, warm_calibration=True))
    state = resources(app)
    async with app.router.lifespan_context(app), make_client(app, None) as client:
        assert state.warm_up is not None
        await anyio.to_thread.run_sync(state.warm_up.join)
        assert (await client.get("/quote", params={"model": H100})).status_code == 200
    logged = "warming the fleet's default question failed" in caplog.text
    assert logged == (failure == "broken")
