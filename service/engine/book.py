"""Closing book values of many assets at one month, vectorised over the assets (NumPy).

:func:`service.engine.schedule.monthly_schedule` lists one asset's months to the end of its life
in exact arithmetic; a fleet valuation needs only one number per asset, the book value at the
close of one month. :func:`closing_book_values` computes that number for every asset at once:
straight line in closed form (the same cents every whole month, :func:`_straight_line`), the
other methods month by month from the in-service month up to that month only. It gives the
same cents as the schedule (the tests compare both over thousands of random assets, every
method, with changes of life and salvage).

How it stays equal to the cent. The schedule's monthly amount is the closed form of its
method on a running *unrounded* balance (module doc of :mod:`service.engine.schedule`):

- straight line ``(B - S)·w / L``,
- sum of the months' digits ``(B - S)·w·(2L - w + 1) / (L·(L + 1))``,
- declining balance ``min(B - S, max(B·f/life·w, (B - S)·w / L))`` (VDB's switch),
- MACRS ``cost × percent / 100`` of each tax year spread over its months (IRS Publication 946,
  Appendix A; :mod:`service.engine.macrs`),

each rounded to the cent half up, the last month taking the residue. Here the same IEEE-754
operations run in the same order on float64 arrays (``+ - × ÷`` and ``min``/``max`` are exact
to the bit in both), the months' weights are the same fractions divided once, and the cents
are counted in int64. Rounding to the cent is ``⌊100x⌋ + (frac ≥ ½)``; where ``100x`` lies
within 10⁻⁶ of a half cent (where the schedule's "shortest decimal, half up" could differ
from the binary value) the amount is rounded as the schedule rounds it, one by one.

An asset whose terms the schedule would refuse (a cost that is not whole cents, a life or
MACRS class out of range, a change it cannot apply) is not valued here: ``exact`` is False for
it, and the caller asks the schedule, which explains the refusal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from service.engine.macrs import RECOVERY_YEARS, macrs_percentages
from service.engine.schedule import MAX_LIFE_MONTHS, METHODS, Method

__all__ = ["METHOD_CODES", "BookValues", "closing_book_values", "round_cents"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: Method name → the small integer the arrays carry.
METHOD_CODES: dict[Method, int] = {method: code for code, method in enumerate(METHODS)}
_SL, _DB, _DDB, _SYD, _MACRS = (
    METHOD_CODES[m] for m in ("straight_line", "declining_balance", "ddb", "syd", "macrs")
)
_TIE = 1e-6
_LARGEST = 1e9  # beyond ten million a month, round every amount one by one
_CENT = Decimal("0.01")
_MACRS_LIVES = [12 * years for years in RECOVERY_YEARS["half_year"]]
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class BookValues:
    """Per asset: ``row``, the index of the schedule month whose closing value is reported
    (the month asked for, or the last month of a life that ended before it; -1 when the
    in-service month has not closed), ``book_cents`` (the acquisition cost when ``row`` is
    -1), and ``exact``, False where the caller must ask the schedule instead."""

    row: Ints
    book_cents: Ints
    exact: Bools


def round_cents(amount: Floats) -> Ints:
    """Each amount to whole cents, half up on its shortest decimal (``Decimal(repr(x))``), as
    :func:`service.engine.schedule.monthly_schedule` rounds; non-negative amounts."""
    scaled = amount * 100.0
    whole = np.floor(scaled)
    part = scaled - whole
    out = (whole + (part >= 0.5)).astype(np.int64)
    doubtful = np.flatnonzero((np.abs(part - 0.5) < _TIE) | (scaled >= _LARGEST))
    if doubtful.size:
        out[doubtful] = [_half_up(x) for x in amount[doubtful].tolist()]
    return out


@lru_cache(maxsize=1 << 14)  # a month's amount of one asset recurs month after month
def _half_up(amount: float) -> int:
    """One amount in cents, half up on its shortest decimal."""
    return int(Decimal(repr(amount)).quantize(_CENT, rounding=ROUND_HALF_UP) * 100)


def closing_book_values(
    *,
    cost: Floats,
    salvage: Floats,
    life_months: Ints,
    method: Ints,
    year: Ints,
    month: Ints,
    day: Ints,
    closed_year: int,
    closed_month: int,
    change_asset: Sequence[int] = (),
    change_year: Sequence[int] = (),
    change_month: Sequence[int] = (),
    change_life: Sequence[int | None] = (),
    change_salvage: Sequence[float | None] = (),
    factor: float = 1.5,
) -> BookValues:
    """Closing book value, at the end of ``closed_year``-``closed_month``, of assets in service
    from ``year``-``month``-``day`` (arrays, one entry per asset; ``method`` in
    :data:`METHOD_CODES`; money in currency units), with changes of estimate given as parallel
    sequences (asset index, effective year and month, new life or None, new salvage or None).

    ``factor`` is the declining-balance factor (``ddb`` uses 2), MACRS the half-year convention,
    as :meth:`service.finance.service.BookTerms.schedule` books them.
    """
    n = len(cost)
    cost_c, cost_ok = _whole_cents(np.asarray(cost, dtype=np.float64))
    salvage_c, salvage_ok = _whole_cents(np.asarray(salvage, dtype=np.float64))
    life = np.asarray(life_months, dtype=np.int64).copy()
    method = np.asarray(method, dtype=np.int64)
    first = np.asarray(year, dtype=np.int64) * 12 + np.asarray(month, dtype=np.int64) - 1
    day = np.asarray(day, dtype=np.int64)
    dim = _days_in_month(np.asarray(year, dtype=np.int64), np.asarray(month, dtype=np.int64))
    n1 = dim - day + 1  # days in service in the first month
    target = closed_year * 12 + closed_month - 1 - first  # row index of the closed month
    exact = (
        cost_ok
        & salvage_ok
        & (salvage_c <= cost_c)
        & (life >= 1)
        & (life <= MAX_LIFE_MONTHS)
        & (method >= 0)
        & (method < len(METHODS))
    )
    row = np.full(n, -1, dtype=np.int64)
    book = cost_c.copy()

    changes = _changes(
        n, first, change_asset, change_year, change_month, change_life, change_salvage
    )
    macrs = method == _MACRS
    has_change = np.zeros(n, dtype=np.bool_)
    if changes:
        has_change[np.concatenate([c[0] for c in changes.values()])] = True
    exact &= ~(macrs & (has_change | (salvage_c != 0) | ~np.isin(life, _MACRS_LIVES)))
    refused = changes.pop(-1, None)
    if refused is not None:
        exact[refused[0]] = False
    # A life over by the month asked for, with no change of estimate, closes at its salvage
    # (the last month of every method but MACRS takes what is left above it): its last row is
    # the life's last month, one later when the first month was partial.
    last_row = np.where(n1 == dim, life - 1, life)
    settled = exact & ~macrs & ~has_change & (target >= last_row)
    row[settled] = last_row[settled]
    book[settled] = salvage_c[settled]
    # Straight line with no change of estimate, in the middle of its life: in closed form.
    level = _straight_line(
        exact & (method == _SL) & ~has_change & ~settled & (target >= 0),
        target,
        cost_c,
        salvage_c,
        life,
        n1,
        dim,
        row,
        book,
    )
    _depreciate(
        exact & ~macrs & ~settled & ~level & ((target >= 0) | has_change),
        target,
        cost_c,
        salvage_c,
        life,
        method,
        n1,
        dim,
        float(factor),
        changes,
        row,
        book,
        exact,
    )
    _macrs(exact & macrs & (target >= 0), target, cost_c, life, month, n1, dim, row, book, exact)
    return BookValues(row=row, book_cents=book, exact=exact)


# --- straight line in closed form -------------------------------------------------------------

#: Bound on the relative error of one float operation (2⁻⁵², twice the unit roundoff).
_EPS = 2.0**-52


def _straight_line(
    candidates: Bools,
    target: Ints,
    cost_c: Ints,
    salvage_c: Ints,
    life: Ints,
    n1: Ints,
    dim: Ints,
    row: Ints,
    book: Ints,
) -> Bools:
    """Straight-line assets closed at a month before their last (``target`` ≥ 0, no change of
    estimate) without stepping through the months; returns the assets valued here.

    The schedule's straight line recomputes each month's amount from the running balance,
    ``(B_k - S)·w/L_k``. Its first month (weight w = days in service over days in the month,
    ``L_0`` = the life) gives ``a_0 = (B_0 - S)·w/L``; every later month before the last is a
    whole month (w = 1) with ``L_k = L_{k-1} - 1``, and ``(B_k - S)/L_k`` is then the same
    number ``x = (B_0 - S)(L - w)/(L·L_1)`` each month: ``(B_k - S) = x·L_k`` holds for k = 1
    and carries to k + 1 because ``B_{k+1} = B_k - x``. So every such month posts the same cents,
    ``round(x)``, and the book value after month t is ``max(C - round(a_0) - t·round(x), S)``
    (each month posts at most what is left above the salvage).

    The schedule computes ``x`` in floating point month by month, so its months' amounts
    agree with the second month's only to a few units in the last place, growing with the
    months (each subtraction from the balance errs by at most ε·C, and the straight line
    carries an error of the balance into the next amount divided by the months left, ≥ 1).
    The cents agree wherever the second month's amount lies farther than that drift from a
    half cent (rounding half up only jumps there), which is all but a vanishing share of
    assets: the others, and amounts large enough to be rounded one by one, are stepped as
    the schedule steps them. Straight line as in :mod:`service.engine.schedule` (IAS 16 ¶62,
    the straight-line method; ASC 360-10-35).
    """
    level = np.zeros(len(cost_c), dtype=np.bool_)
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        return level
    c = cost_c[idx]
    s = salvage_c[idx]
    t = target[idx]
    d = dim[idx]
    lf = life[idx]
    w1n = n1[idx]
    salvage = s / 100.0
    running = c / 100.0  # the schedule's first balance, float(cost)
    left0 = (lf * d) / d
    x0 = np.maximum(running - salvage, 0.0) * (w1n / d) / left0
    x1 = np.maximum((running - x0) - salvage, 0.0) * 1.0 / ((lf * d - w1n) / d)
    scaled = x1 * 100.0
    part = scaled - np.floor(scaled)
    drift = 100.0 * 8.0 * _EPS * ((t + 2) * running + 3.0 * x1)
    safe = (np.abs(part - 0.5) > _TIE + drift) & (scaled + drift < _LARGEST)
    first = round_cents(x0)
    later = round_cents(np.where(safe, x1, 0.0))
    value = np.maximum(np.maximum(c - first, s) - t * later, s)
    ok = idx[safe]
    row[ok] = t[safe]
    book[ok] = value[safe]
    level[ok] = True
    return level


# --- the methods other than MACRS -------------------------------------------------------------

_Changes = dict[int, tuple[Ints, Ints, Ints]]  # row index → (assets, new life|-1, salvage|-1)


def _depreciate(
    live: Bools,
    target: Ints,
    cost_c: Ints,
    salvage_c: Ints,
    life: Ints,
    method: Ints,
    n1: Ints,
    dim: Ints,
    factor: float,
    changes: _Changes,
    row: Ints,
    book: Ints,
    exact: Bools,
) -> None:
    """Step every live asset month by month up to its target row (in place).

    An asset that stops (its target row passed and no change left to apply, or its life over)
    never steps again, so the working arrays are cut down to the assets still stepping whenever
    a quarter of them have stopped: a fleet of mixed ages costs its assets' months, not the
    oldest asset's months times the fleet.
    """
    idx = np.flatnonzero(live)
    if idx.size == 0:
        return
    m = idx.size
    where = np.full(len(cost_c), -1, dtype=np.int64)  # asset → its working position, or -1
    where[idx] = np.arange(m)
    # Past the month asked for, an asset steps on only to apply (and so check) its changes.
    stop = target[idx].copy()
    for k, (assets, _, _) in changes.items():
        at = where[assets]
        at = at[at >= 0]
        np.maximum.at(stop, at, k)
    # Per asset (positions 0..m-1): the row reported, its closing book value, the life's last
    # row, and whether the schedule would refuse the terms.
    last = np.full(m, -1, dtype=np.int64)
    value = cost_c[idx].copy()
    ended = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
    failed = np.zeros(m, dtype=np.bool_)
    # The working state of the assets still stepping; ``sel`` maps them to their positions.
    sel = np.arange(m)
    salv = salvage_c[idx].copy()
    lf = life[idx].copy()
    bk = cost_c[idx].copy()
    meth = method[idx]
    rate_factor = np.where(meth == _DDB, 2.0, factor)
    d, w1n, tgt = dim[idx], n1[idx], target[idx]
    done = np.zeros(m, dtype=np.bool_)
    running = bk / 100.0  # the unrounded balance, float(cost) as the schedule starts it
    for k in range(int(stop.max()) + 1):
        on = ~done & (stop >= k)
        count = int(np.count_nonzero(on))
        if count == 0:
            break
        if count < 0.75 * on.size:  # an asset off now stays off: drop them
            sel, salv, lf, bk, meth, rate_factor = (
                sel[on],
                salv[on],
                lf[on],
                bk[on],
                meth[on],
                rate_factor[on],
            )
            d, w1n, tgt, stop, running = d[on], w1n[on], tgt[on], stop[on], running[on]
            done = np.zeros(count, dtype=np.bool_)
            on = np.ones(count, dtype=np.bool_)
            where[idx] = -1
            where[idx[sel]] = np.arange(count)
        hit = changes.get(k)
        if hit is not None:
            _apply(hit, where, k, on, done, lf, salv, bk, w1n, d, running, sel, failed)
        if k == 0:
            rem = lf * d
            weight = w1n / d
            final = (w1n == d) & (lf == 1)
        else:
            rem = (lf - k + 1) * d - w1n
            weight = np.where(rem >= d, 1.0, rem / d)
            final = rem <= d
        step = on & ~final
        with np.errstate(all="ignore"):  # past an asset's life the formulas divide by zero
            amount_x = _amount(meth, running, salv / 100.0, rem / d, weight, rate_factor / lf)
        amount_x = np.where(step, amount_x, 0.0)
        running -= amount_x
        amount = np.where(final, bk - salv, np.minimum(round_cents(amount_x), bk - salv))
        bk -= np.where(on, amount, 0)
        reported = on & (tgt >= k)
        last[sel[reported]] = k
        value[sel[reported]] = bk[reported]
        ending = on & final
        ended[sel[ending]] = k
        done |= ending
    where[idx] = np.arange(m)
    _unapplied(changes, where, ended, failed)
    ok = ~failed
    exact[idx[failed]] = False
    row[idx[ok]] = last[ok]
    book[idx[ok]] = value[ok]


def _amount(
    method: Ints, book: Floats, salvage: Floats, left: Floats, w: Floats, rate: Floats
) -> Floats:
    """The month's unrounded amount, operation for operation as the schedule's ``_amount``."""
    depreciable = np.maximum(book - salvage, 0.0)
    straight_line = depreciable * w / left
    syd = depreciable * w * (2 * left - w + 1) / (left * (left + 1))
    declining = np.minimum(depreciable, np.maximum(book * rate * w, straight_line))
    out: Floats = np.where(method == _SL, straight_line, np.where(method == _SYD, syd, declining))
    return out


def _apply(
    hit: tuple[Ints, Ints, Ints],
    where: Ints,
    k: int,
    on: Bools,
    done: Bools,
    lf: Ints,
    salv: Ints,
    bk: Ints,
    w1n: Ints,
    d: Ints,
    running: Floats,
    sel: Ints,
    failed: Bools,
) -> None:
    """Changes effective in row ``k``: a new life (counted from the in-service date, so it must
    exceed the months elapsed) and/or salvage (at most the book value); the unrounded balance
    restarts from the book value posted (IAS 8 / ASC 250, prospective). ``where`` maps an asset
    to its working position (-1 once it stopped stepping), ``sel`` a working position to the
    asset's position in ``failed``."""
    assets, lives, salvages = hit
    at = where[assets]
    known = at >= 0
    at, lives, salvages = at[known], lives[known], salvages[known]
    failed[sel[at[done[at]]]] = True  # a change after the last month: the schedule refuses it
    live = on[at]
    at, lives, salvages = at[live], lives[live], salvages[live]
    new_life = lives >= 0
    elapsed_d = 0 if k == 0 else (k - 1) * d[at] + w1n[at]  # months elapsed, × days
    bad_life = new_life & ((lives < 1) | (lives > MAX_LIFE_MONTHS) | (lives * d[at] <= elapsed_d))
    lf[at] = np.where(new_life, lives, lf[at])
    new_salv = salvages >= 0
    bad_salvage = new_salv & (salvages > bk[at])
    salv[at] = np.where(new_salv, salvages, salv[at])
    failed[sel[at[bad_life | bad_salvage]]] = True
    running[at] = bk[at] / 100.0


def _unapplied(changes: _Changes, position: Ints, ended: Ints, failed: Bools) -> None:
    """A change after the last month of the life: the schedule refuses it."""
    for k, (assets, _, _) in changes.items():
        at = position[assets]
        at = at[at >= 0]
        failed[at[ended[at] < k]] = True


def _changes(
    n: int,
    first: Ints,
    assets: Sequence[int],
    years: Sequence[int],
    months: Sequence[int],
    lives: Sequence[int | None],
    salvages: Sequence[float | None],
) -> _Changes:
    if not len(assets):
        return {}
    asset = np.asarray(assets, dtype=np.int64)
    at = np.asarray(years, dtype=np.int64) * 12 + np.asarray(months, dtype=np.int64) - 1
    k = at - first[asset]
    life = np.array([-1 if v is None else v for v in lives], dtype=np.int64)
    raw = np.array([-1.0 if v is None else v for v in salvages], dtype=np.float64)
    salvage, ok = _whole_cents(np.where(raw < 0, 0.0, raw))
    salvage = np.where(raw < 0, -1, salvage)
    pairs = list(zip(asset.tolist(), k.tolist(), strict=True))
    seen = Counter(pairs)
    repeated = np.array([seen[pair] > 1 for pair in pairs], dtype=np.bool_)
    out: _Changes = {}
    order = np.argsort(k, kind="stable")
    for key in np.unique(k):
        sel = order[k[order] == key]
        out[int(key)] = (asset[sel], life[sel], salvage[sel])
    # Before the in-service month, not a whole number of cents, or two in one month: the
    # schedule refuses them.
    refused = asset[(k < 0) | ~ok | repeated]
    if refused.size:
        out[-1] = (refused, np.zeros(refused.size, np.int64), np.zeros(refused.size, np.int64))
    return out


# --- MACRS ------------------------------------------------------------------------------------


def _macrs(
    live: Bools,
    target: Ints,
    cost_c: Ints,
    life: Ints,
    month: Ints,
    n1: Ints,
    dim: Ints,
    row: Ints,
    book: Ints,
    exact: Bools,
) -> None:
    """MACRS, half-year convention: the first tax (calendar) year's percent spread over its
    months from the in-service date (the first pro rata by days), later years' over twelve."""
    for years in RECOVERY_YEARS["half_year"]:
        months = 12 * years
        idx = np.flatnonzero(live & exact & (life == months))
        if idx.size == 0:
            continue
        percents = np.array(macrs_percentages(years), dtype=np.float64)
        c = cost_c[idx] / 100.0
        first_year = 13 - np.asarray(month, dtype=np.int64)[idx]  # months in the first tax year
        total = first_year + 12 * (len(percents) - 1)
        denominator = n1[idx] + (first_year - 1) * dim[idx]
        upto = np.minimum(target[idx], total - 1)
        bk = cost_c[idx].copy()
        for k in range(int(upto.max()) + 1):
            on = upto >= k
            share = (n1[idx] if k == 0 else dim[idx]) / denominator
            year = np.where(k < first_year, 0, 1 + (k - first_year) // 12)
            percent = percents[np.minimum(year, len(percents) - 1)]
            later = c * percent / 100 / 12
            in_first = c * percents[0] / 100 * share
            amount_x = np.where(k < first_year, in_first, later)
            amount = np.where(k == total - 1, bk, np.minimum(round_cents(amount_x), bk))
            bk = np.where(on, bk - amount, bk)
        row[idx] = upto
        book[idx] = bk


# --- helpers ----------------------------------------------------------------------------------


def _whole_cents(amount: Floats) -> tuple[Ints, Bools]:
    """Amounts in cents, and whether each is a whole number of cents as the schedule reads a
    float (its shortest decimal): ``x`` is the double nearest ``c/100`` exactly when they are
    equal as doubles (below 10¹³, where two cent amounts never share a double)."""
    finite = np.isfinite(amount)
    safe = np.where(finite, amount, 0.0)
    cents = np.rint(safe * 100.0)
    ok = finite & (safe >= 0) & (safe < 1e13) & (cents / 100.0 == safe)
    return cents.astype(np.int64), ok


def _days_in_month(year: Ints, month: Ints) -> Ints:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days: Ints = _DAYS[month - 1] + ((month == 2) & leap)
    return days
