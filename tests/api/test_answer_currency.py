"""An answer in another currency is the USD answer with every amount of money converted at the
month's FX rate, and nothing else changed but the currency, the digest and the provenance."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

H100 = "nvidia-h100-sxm5-80gb"
AS_OF = "2025-03-15"

# Amounts of money and rates in each answer; everything else is the same in any currency.
QUOTE_MONEY = {"rate_per_gpu_hour", "rate_per_gpu_month", "rate_total_per_hour", "low", "high"}
RESIDUAL_MONEY = {"value_per_gpu", "reference_price", "low", "high"}
APPROACHES_MONEY = {"income", "market", "cost", "reconciled"}
CURVE_MONEY = {"value_per_gpu", "income_value"}
PATH_MONEY = {"value_per_gpu"}
PER_CURRENCY = {"currency", "inputs_digest", "provenance"}


async def both(client: httpx.AsyncClient, path: str, **params: Any) -> tuple[Any, Any, float]:
    answers = []
    for currency in ("USD", "EUR"):
        response = await client.get(path, params={**params, "currency": currency})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    usd, eur = answers
    assert (usd["currency"], eur["currency"]) == ("USD", "EUR")
    assert usd["inputs_digest"] != eur["inputs_digest"]
    rate = eur["provenance"]["fx"]["usd_per_unit"]
    return usd, eur, rate


def same_but_money(usd: dict[str, Any], eur: dict[str, Any], money: set[str], rate: float) -> None:
    assert usd.keys() == eur.keys()
    for key, value in usd.items():
        if key in money:
            if value is None:
                assert eur[key] is None, key
            else:
                # Each answer is rounded (cents, or 4 decimals for rates) after converting.
                assert eur[key] == pytest.approx(value / rate, rel=1e-4, abs=0.01), key
        elif key not in PER_CURRENCY and key not in {"approaches", "curve", "path"}:
            assert eur[key] == value, key


async def test_a_quote_in_another_currency_converts_its_rates_only(
    client: httpx.AsyncClient,
) -> None:
    usd, eur, rate = await both(client, "/quote", model=H100, as_of=AS_OF, term="1y", gpus=8)
    assert rate > 0 and rate != 1
    same_but_money(usd, eur, QUOTE_MONEY, rate)


async def test_a_residual_in_another_currency_converts_its_amounts_only(
    client: httpx.AsyncClient,
) -> None:
    usd, eur, rate = await both(
        client, "/residual", model=H100, as_of=AS_OF, age_months=12, include="curve,path"
    )
    same_but_money(usd, eur, RESIDUAL_MONEY, rate)
    same_but_money(usd["approaches"], eur["approaches"], APPROACHES_MONEY, rate)
    assert len(usd["curve"]) == len(eur["curve"]) > 0
    for a, b in zip(usd["curve"], eur["curve"], strict=True):
        same_but_money(a, b, CURVE_MONEY, rate)
    assert len(usd["path"]) == len(eur["path"]) > 0
    for a, b in zip(usd["path"], eur["path"], strict=True):
        same_but_money(a, b, PATH_MONEY, rate)
