"""The reference catalogue loads completely, and loading it again changes nothing."""

from __future__ import annotations

import csv
from importlib import resources

from sqlalchemy import String, func, select
from sqlalchemy.orm import Session

from service.db import current_data_version
from service.engine.assumptions import ASSUMPTIONS
from service.registry.orm import Assumption, FrontierEntry, FxRate, GpuModel, Observation
from service.registry.seed import seed_all


def rows(name: str) -> int:
    return len(
        list(
            csv.DictReader(resources.files("service.data").joinpath(name).read_text().splitlines())
        )
    )


def count(session: Session, table: type) -> int:
    return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_template_holds_the_whole_reference_data(session: Session) -> None:
    assert count(session, GpuModel) == rows("gpu_models.csv") == 37
    assert count(session, Observation) == rows("observations.csv") == 2727
    assert count(session, FxRate) == rows("fx_usd.csv")
    assert count(session, FrontierEntry) == rows("frontier.csv") == 3
    assert count(session, Assumption) == len(ASSUMPTIONS)


def test_seeding_twice_changes_nothing(session: Session) -> None:
    version = current_data_version(session)
    counts = seed_all(session)
    session.commit()
    assert all(c.inserted == 0 for c in counts), counts
    assert current_data_version(session) == version
    assert count(session, Observation) == 2727


def test_seed_fills_in_what_was_deleted_and_keeps_edits(session: Session) -> None:
    h100 = session.get(GpuModel, "nvidia-h100-sxm5-80gb")
    assert h100 is not None
    h100.tdp_w = 650
    victim = session.scalars(
        select(Observation).where(Observation.model_slug == "nvidia-b200-sxm-180gb")
    ).first()
    assert victim is not None
    session.delete(victim)
    session.commit()
    counts = {c.table: c.inserted for c in seed_all(session)}
    session.commit()
    assert counts["observations"] == 1 and counts["gpu_models"] == 0
    assert session.get(GpuModel, "nvidia-h100-sxm5-80gb").tdp_w == 650  # type: ignore[union-attr]


def test_reference_observations_are_known_from_their_date(session: Session) -> None:
    obs = session.scalars(select(Observation).order_by(Observation.id).limit(50)).all()
    assert all(o.recorded_at.date() == o.observed_on for o in obs)


def test_every_assumption_fits_its_columns() -> None:
    """PostgreSQL enforces column lengths (SQLite does not): an over-long unit or name would
    fail `gpuval seed` there only."""
    unit_type, name_type = (Assumption.__table__.c[c].type for c in ("unit", "name"))
    assert isinstance(unit_type, String) and isinstance(name_type, String)
    unit, name = unit_type.length, name_type.length
    assert unit is not None and name is not None
    for spec in ASSUMPTIONS:
        assert len(spec.unit) <= unit and len(spec.name) <= name, spec.name
