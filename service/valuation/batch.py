"""``POST /quote`` with ``items``: up to 1,000 quotes answered in one pass.

The batch is read once: one calibration context per (``as_of``, ``known_at``), one spec per
model, and one engine quote per distinct rate (:class:`service.engine.batch.Quoter`: items
that differ only in their GPU count, or not at all, share it). Each item's answer is what
``POST /quote`` answers for that item alone; a batch is answered whole or refused whole, every
bad item named by its index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from service import engine
from service.engine.batch import Quoter
from service.errors import FieldError, InvalidInput, NotFound
from service.valuation import service
from service.valuation.schemas import QuoteRead, QuoteRequest

__all__ = ["quote_items"]


def quote_items(
    session: Session, valuer: service.Valuer, items: Sequence[QuoteRequest]
) -> list[QuoteRead]:
    """Every item quoted, or :class:`InvalidInput` naming each bad item (``items.<i>.<field>``)."""
    today = service.today()
    contexts: dict[tuple[date, datetime | None], service.Context] = {}
    quoter = Quoter()
    specs: dict[tuple[int, str], engine.ModelSpec] = {}
    answers: list[QuoteRead] = []
    errors: list[FieldError] = []
    same: dict[str, QuoteRead] = {}  # an item asked twice is answered once
    # items differing only in their GPU count: the first one's answers, engine and web
    siblings: dict[str, tuple[QuoteRead, engine.Quote, service.Context]] = {}
    kept: list[engine.Quote] = []
    fx_memo: dict[tuple[int, str, date], engine.Converted | None] = {}

    def keep(*args: Any, **kwargs: Any) -> engine.Quote:
        kept.append(quoter.quote(*args, **kwargs))
        return kept[-1]

    for index, item in enumerate(items):
        asked = item.model_dump_json()
        if asked in same:
            answers.append(same[asked])
            continue
        family = item.model_dump_json(exclude={"gpus"})
        try:
            if family in siblings:
                same[asked] = _regpu(quoter, fx_memo, *siblings[family], item)
                answers.append(same[asked])
                continue
            as_of = item.as_of or today
            ctx = contexts.get((as_of, item.known_at))
            if ctx is None:
                ctx = contexts[as_of, item.known_at] = valuer.context(
                    session, as_of=as_of, known_at=item.known_at
                )
            cal = ctx.calibration
            if item.spec is None and item.model is not None:
                spec = specs.get((id(cal), item.model))
                if spec is None:
                    spec = specs[id(cal), item.model] = service.spec_for(ctx, item.model, None)
            else:
                spec = service.spec_for(ctx, item.model, item.spec)
            answer = same[asked] = service.quote(
                ctx,
                spec,
                as_of=as_of,
                term=item.term,
                gpus=item.gpus,
                age_months=item.age_months,
                fp8=item.fp8,
                fp4=item.fp4,
                currency=item.currency,
                overrides=item.assumptions,
                segment=item.segment,
                provider=item.provider,
                quoter=keep,
            )
            answers.append(answer)
            siblings[family] = (answer, kept[-1], ctx)
        except InvalidInput as exc:
            errors.extend(
                FieldError(field=f"items.{index}.{e.field}", reason=e.reason, line=index + 1)
                for e in exc.errors
            )
        except engine.EngineInputError as exc:
            errors.append(
                FieldError(field=f"items.{index}.{exc.field}", reason=exc.reason, line=index + 1)
            )
        except NotFound as exc:
            errors.append(
                FieldError(field=f"items.{index}.model", reason=exc.detail, line=index + 1)
            )
    if errors:
        raise InvalidInput(
            f"{len(errors)} problem(s) in the request; nothing was quoted.", errors=errors
        )
    return answers


def _regpu(
    quoter: Quoter,
    fx_memo: dict[tuple[int, str, date], engine.Converted | None],
    read: QuoteRead,
    base: engine.Quote,
    ctx: service.Context,
    item: QuoteRequest,
) -> QuoteRead:
    """A sibling's answer for this item's GPU count: the count, the total rate and the digests
    are all that change (:meth:`service.engine.batch.Quoter.sibling`)."""
    spec = ctx.calibration.models.get(base.model) if item.spec is None else None
    spec = spec or service.spec_for(ctx, item.model, item.spec)
    q = quoter.sibling(
        ctx.calibration, base, spec, item.gpus, item.fp8, item.fp4, item.segment, item.provider
    )
    key = (id(ctx), item.currency, base.as_of)
    if key in fx_memo:
        fx = fx_memo[key]
    else:
        fx = fx_memo[key] = service.fx_for(ctx, item.currency, base.as_of)
    k = 1.0 / fx.usd_per_unit if fx else 1.0
    return read.model_copy(
        update={
            "gpus": q.gpus,
            "rate_total_per_hour": q.rate_total_per_hour * k,
            "inputs_digest": service.answer_digest(q.inputs_digest, fx),
        }
    )
