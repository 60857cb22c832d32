"""Fleet valuation: every asset's fair value beside its book value on a date.

For each asset of the register, on ``as_of``:

- **Fair value** = the engine's residual value per GPU of the asset's model at the asset's age
  (whole calendar months since ``in_service_on`` plus the fraction of the month under way, as
  ``/residual?in_service_on=`` counts it; 0 before the in-service date) on the requested
  premise, × ``gpu_count``. The per-GPU value is rounded to the cent first, so
  ``fair_value = fair_value_per_gpu × gpu_count`` exactly.
- **Book value** = the closing book value of the last month *closed* on ``as_of`` in the
  asset's monthly schedule (:mod:`service.engine.schedule`, prospective changes applied): the
  month of ``as_of`` when ``as_of`` is its last day, else the month before. Ledgers post
  depreciation monthly and the engine has no intra-month schedule, so a mid-month date shows
  the previous month-end, not a pro-rata amount. Before the first month closes the book value
  is the acquisition cost; after the last month it is the final salvage.
- **Difference** = fair − book; **impaired** = book value above the recoverable amount, for
  which the fair value on the requested premise stands in (IAS 36 / ASC 360 compare the higher
  of fair value less costs of disposal and value in use; the engine's premise value is the
  service's estimate of the former).

Amounts are in the asset's currency unless a ``currency`` is requested. The engine answers in
USD; every amount is converted at the FX table's rate for the month of ``as_of`` (the closing
rate, IAS 21.39, so book and fair value of one asset use the same rate and the flag does not
depend on the currency asked for); the rates used are reported.

Deterministic: nothing here reads a clock. The same ``as_of`` and ``known_at`` give the same
answer as long as the register and the reference data (models, FX, frontier, assumptions) are
unchanged; ``known_at`` filters observations only.

Cost, by layer:

- :mod:`.repository`: one statement, compiled by SQLAlchemy and fetched from the driver's own
  cursor (a named server-side cursor on PostgreSQL) as plain tuples, in batches of
  :data:`~.repository.STREAM_BATCH` assets handed over as columns;
- :mod:`.valuation`: per batch, one engine state per model evaluated once per new (model, age
  in days), in a table shared by the requests that ask the same question
  (:class:`~.valuation.FairTables`), and the book values of the whole batch in one vectorised
  pass (:mod:`service.engine.book`); the lines are NumPy arrays of integer cents;
- :mod:`.fx` and :mod:`.totals`: the rates used and the sums per currency;
- :mod:`.csv_export`: rows formatted a column at a time and written
  :data:`~.csv_export.CSV_CHUNK_ROWS` at a time, so memory does not grow with the fleet.

The totals of a JSON page are those of the whole fleet; they are computed once per question
(data version, ``as_of``, ``known_at``, premise, currency, filters) and kept in the process's
bounded memo (a finished CSV of the question leaves its totals there too), so a page costs a
page. A question never asked is summed from :mod:`.register`: the columns the totals need of
every asset (model, in-service date, GPU count, currency, book terms) and their book values per
closed month, kept between questions and, after a write, read again only in the buckets of ids
the write touched (:func:`~.repository.register_signature`), book values recomputed only for
the assets whose terms changed; :meth:`~.valuation.FleetValuation.totals` then values each
distinct (model, days in service) once and sums whole columns per currency.
"""

from __future__ import annotations

from service.valuation.fleet.ages import closed_month
from service.valuation.fleet.csv_export import CSV_CHUNK_ROWS, CSV_HEADER, csv_chunks
from service.valuation.fleet.fx import Rate, rates_for
from service.valuation.fleet.lines import AssetLine, FairTable, FairTables, Lines
from service.valuation.fleet.register import Register, Registers
from service.valuation.fleet.repository import (
    AssetBatch,
    asset_batches,
    count_assets,
    fleet_census,
    fleet_currencies,
    fleet_models,
)
from service.valuation.fleet.totals import CurrencyTotals, Totals
from service.valuation.fleet.valuation import FleetValuation

__all__ = [
    "CSV_CHUNK_ROWS",
    "CSV_HEADER",
    "AssetBatch",
    "AssetLine",
    "CurrencyTotals",
    "FairTable",
    "FairTables",
    "FleetValuation",
    "Lines",
    "Rate",
    "Register",
    "Registers",
    "Totals",
    "asset_batches",
    "closed_month",
    "count_assets",
    "csv_chunks",
    "fleet_census",
    "fleet_currencies",
    "fleet_models",
    "rates_for",
]
