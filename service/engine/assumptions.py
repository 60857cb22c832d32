"""Business assumptions: every parameter has a default, a unit, bounds and a stated reason.

``ASSUMPTIONS`` is data: the database layer seeds its assumptions table from it and passes
overrides back through :meth:`Assumptions.from_mapping`, which validates them against the
bounds. Defaults are labelled *assumption* where no published figure pins them down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

__all__ = ["ASSUMPTIONS", "AssumptionSpec", "Assumptions"]


@dataclass(frozen=True, slots=True)
class AssumptionSpec:
    """Metadata of one assumption: its default, unit, closed bounds and the reason for it."""

    name: str
    default: float
    unit: str
    minimum: float
    maximum: float
    reason: str


ASSUMPTIONS: tuple[AssumptionSpec, ...] = (
    AssumptionSpec(
        "utilisation",
        1.0,
        "fraction of hours billed",
        0.05,
        1.0,
        "Share of hours billed at the contract-level rent. The income approach values a unit at "
        "the contract-level rent its market pays (estimated from fixed-term cards against "
        "on-demand), and a committed lease pays for every hour. "
        "Lower it for units that wait between contracts: value is first-order in it.",
    ),
    AssumptionSpec(
        "discount_rate",
        0.12,
        "per year, continuous",
        0.005,
        1.0,
        "Assumption: an equity-like rate for a short-lived, volatile asset (12% a year, "
        "continuous); also the rate at which the market's term structure is read.",
    ),
    AssumptionSpec(
        "power_price_usd_per_kwh",
        0.08,
        "USD per kWh",
        0.0,
        1.0,
        "US industrial average retail price ~8 cents/kWh in 2024 (EIA Electric Power Monthly, "
        "table 5.6.A).",
    ),
    AssumptionSpec(
        "pue",
        1.3,
        "facility kW per IT kW",
        1.0,
        3.0,
        "Assumption for a modern GPU hall: Uptime Institute's 2024 survey average is ~1.56, "
        "new liquid/air-cooled AI builds report 1.1-1.4.",
    ),
    AssumptionSpec(
        "server_overhead",
        1.82,
        "server kW per GPU TDP kW",
        1.0,
        3.0,
        "NVIDIA DGX H100: 10.2 kW system maximum for 8 x 700 W GPUs (10.2 / 5.6 = 1.82): "
        "CPUs, memory, NICs, fans and PSU losses.",
    ),
    AssumptionSpec(
        "colocation_usd_per_kw_month",
        150.0,
        "USD per IT kW per month, power excluded",
        0.0,
        2000.0,
        "Assumption: wholesale colocation in primary US markets asked roughly $130-190/kW-month "
        "in 2024 (CBRE North America Data Center Trends); metered power is billed separately.",
    ),
    AssumptionSpec(
        "operations_usd_per_gpu_hour",
        0.05,
        "USD per GPU-hour",
        0.0,
        5.0,
        "Assumption: staff, network, spares, software and insurance, ~2-3% of an H100 rent.",
    ),
    AssumptionSpec(
        "scrap_fraction",
        0.02,
        "fraction of reference price",
        0.0,
        0.5,
        "Assumption: parts and recycling value at retirement; used V100s sell for 2-4% of launch "
        "price (service/data/README.md), an upper bound for scrap.",
    ),
    AssumptionSpec(
        "physical_life_months",
        120.0,
        "months from first use",
        12.0,
        240.0,
        "Assumption: the oldest a unit can work, a cap on the survival curve below rather than "
        "the usual life: units seven years old still sell used as working parts (used T4s, "
        "released in September 2018, sold on eBay for about $543 in January 2026: "
        "service/data/observations.csv). The usual life is set by the hazard: with its "
        "defaults half the units are retired by about six years, as the largest operators book "
        "their servers (5-6 years: Microsoft, Alphabet and Amazon 10-K filings 2022-2024; "
        "Amazon shortened part of its AI fleet to 5 years in 2025), and economic life may end "
        "earlier, when rent no longer covers running cost.",
    ),
    AssumptionSpec(
        "failure_hazard_per_year",
        0.02,
        "failures per unit-year at age 0",
        0.0,
        0.5,
        "Assumption: the rate at which new units fail or are retired. Meta's Llama 3 report "
        "(2024, section 3.3.4) counts 256 GPU-related interruptions over 16,384 H100s in 54 "
        "days, about 10.6% a GPU-year at full load, an upper bound on failures since most are "
        "repaired; a few per cent a year when new.",
    ),
    AssumptionSpec(
        "hazard_growth_per_year",
        0.5,
        "per year of age (Gompertz)",
        0.0,
        2.0,
        "Assumption: growth of the hazard of failure or retirement with age (wear-out, and "
        "older units leaving fleets as operators replace them). At 0.5 the hazard is 2% a year "
        "new, 15% at four years and 40% at six: half the units survive to about six years (the "
        "operators' 5-6-year books), one in eight to eight years and almost none to ten "
        "(physical_life_months caps the curve).",
    ),
    AssumptionSpec(
        "frontier_move_interval_months",
        36.0,
        "months between frontier moves",
        6.0,
        120.0,
        "Assumption from NVIDIA's cadence: BF16 at scale (A100, 2020) -> FP8 (H100, 2022-23) "
        "-> FP4 (Blackwell, 2025); used only where the frontier timeline has no later entry.",
    ),
    AssumptionSpec(
        "decline_prior_frontier",
        0.10,
        "per year",
        0.0,
        1.0,
        "Prior for rent decline at the frontier: parts that support the production precision "
        "are supply-constrained and their list rents sticky (flat to slowly falling).",
    ),
    AssumptionSpec(
        "decline_prior_behind",
        0.30,
        "per year",
        0.0,
        2.0,
        "Prior for rent decline behind the frontier: parts without the production precision "
        "enter a price-decline cycle (used A100 PCIe prices fell about 50% a year after FP8).",
    ),
    AssumptionSpec(
        "decline_prior_sd",
        0.10,
        "per year",
        0.01,
        1.0,
        "Assumption: prior standard deviation of both decline rates; the data's own standard "
        "error weighs against it (normal-normal shrinkage).",
    ),
    AssumptionSpec(
        "orderly_liquidation_factor",
        0.80,
        "fraction of market value",
        0.0,
        1.0,
        "Assumption from equipment-appraisal practice (ASA): orderly liquidation value is "
        "typically 70-90% of fair market value.",
    ),
    AssumptionSpec(
        "forced_liquidation_factor",
        0.55,
        "fraction of market value",
        0.0,
        1.0,
        "Assumption from equipment-appraisal practice (ASA): forced liquidation (auction) value "
        "is typically 40-65% of fair market value.",
    ),
    AssumptionSpec(
        "market_weight_max",
        0.7,
        "fraction",
        0.0,
        1.0,
        "Assumption: a model's own recent sales are the most direct evidence of what its units "
        "sell for, weighted by their credibility n/(n + 3) (n: own sales in the last two years) "
        "up to this share; public sale prices are often listings, so never all of it.",
    ),
    AssumptionSpec(
        "cost_weight",
        0.2,
        "fraction",
        0.0,
        0.5,
        "Assumption: the cost approach (new-equivalent price less physical depreciation) checks "
        "the other two; appraisers give it a minority weight for specialised equipment whose "
        "new price moves with the rents it earns.",
    ),
)

_BY_NAME = {spec.name: spec for spec in ASSUMPTIONS}


def _default(name: str) -> float:
    return _BY_NAME[name].default


@dataclass(frozen=True, slots=True)
class Assumptions:
    """The assumptions one answer used; build overrides with :meth:`from_mapping`."""

    utilisation: float = field(default=_default("utilisation"))
    discount_rate: float = field(default=_default("discount_rate"))
    power_price_usd_per_kwh: float = field(default=_default("power_price_usd_per_kwh"))
    pue: float = field(default=_default("pue"))
    server_overhead: float = field(default=_default("server_overhead"))
    colocation_usd_per_kw_month: float = field(default=_default("colocation_usd_per_kw_month"))
    operations_usd_per_gpu_hour: float = field(default=_default("operations_usd_per_gpu_hour"))
    scrap_fraction: float = field(default=_default("scrap_fraction"))
    physical_life_months: float = field(default=_default("physical_life_months"))
    failure_hazard_per_year: float = field(default=_default("failure_hazard_per_year"))
    hazard_growth_per_year: float = field(default=_default("hazard_growth_per_year"))
    frontier_move_interval_months: float = field(default=_default("frontier_move_interval_months"))
    decline_prior_frontier: float = field(default=_default("decline_prior_frontier"))
    decline_prior_behind: float = field(default=_default("decline_prior_behind"))
    decline_prior_sd: float = field(default=_default("decline_prior_sd"))
    orderly_liquidation_factor: float = field(default=_default("orderly_liquidation_factor"))
    forced_liquidation_factor: float = field(default=_default("forced_liquidation_factor"))
    market_weight_max: float = field(default=_default("market_weight_max"))
    cost_weight: float = field(default=_default("cost_weight"))

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            spec = _BY_NAME[name]
            if not spec.minimum <= value <= spec.maximum:
                raise ValueError(
                    f"{name}={value!r} outside [{spec.minimum}, {spec.maximum}] {spec.unit}"
                )

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> Assumptions:
        """Defaults overridden by ``values``; unknown names and out-of-bound values raise."""
        unknown = sorted(set(values) - set(_BY_NAME))
        if unknown:
            raise ValueError(f"unknown assumptions: {', '.join(unknown)}")
        return cls(**{name: float(value) for name, value in values.items()})

    def as_dict(self) -> dict[str, float]:
        """Name -> value, in registry order (what every answer echoes): a new dict per call,
        read field by field. Equal to ``dataclasses.asdict`` for these scalar fields, without
        its recursive deep copy (which cost about a quarter of a quote)."""
        return {name: getattr(self, name) for name in _FIELDS}


#: Field names of :class:`Assumptions` in declaration (= registry) order.
_FIELDS = tuple(f.name for f in fields(Assumptions))
