"""Typed httpx client for ``/quote`` and ``/residual``, sync and async.

    from service.client import GpuvalClient, NotFoundError

    with GpuvalClient("https://gpuval.internal", api_key=KEY) as gpuval:
        quote = gpuval.quote("nvidia-h100-sxm5-80gb", term="1y", as_of=date(2026, 1, 1))
        print(quote.rate_per_gpu_hour, quote.regime)
        residual = gpuval.residual("nvidia-a100-sxm4-80gb", age_months=30, include_curve=True)

    async with AsyncGpuvalClient("https://gpuval.internal", api_key=KEY) as gpuval:
        quotes = await gpuval.quote_batch([{"model": "nvidia-a100-sxm4-80gb", "term": "3y"}])

Results are the service's answers (:class:`Quote`, :class:`Residual`), typed by models
generated from its OpenAPI document (``service.client_types``), so the client loads neither
the server nor its engine. Any
problem+json answer raises a :class:`GpuvalError` subclass carrying the problem. Connection
errors, timeouts, 429 and 5xx are retried with exponential backoff and full jitter, honouring
``Retry-After`` up to ``max_wait``; other 4xx answers are never retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import anyio
import httpx
from pydantic import ValidationError as _SchemaError
from pydantic_core import to_jsonable_python

from service.client_errors import (
    AuthError,
    GpuvalError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
    raise_for,
    retry_after,
)
from service.client_types import QuoteBatchRead, QuoteRead, ResidualRead

__all__ = [
    "AsyncGpuvalClient",
    "AuthError",
    "GpuvalClient",
    "GpuvalError",
    "InvalidRequestError",
    "NotFoundError",
    "Quote",
    "Residual",
    "UnavailableError",
]

Quote = QuoteRead
Residual = ResidualRead
T = TypeVar("T")
log = logging.getLogger("service.client")
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class _Call(Generic[T]):
    request: httpx.Request
    parse: Callable[[httpx.Response], T]


def _query(**values: Any) -> dict[str, str | int | float | bool]:
    """Query parameters without the unset ones; dates in ISO form."""
    return {
        k: v.isoformat() if isinstance(v, date) else v for k, v in values.items() if v is not None
    }


def _parser(read: Callable[[bytes], T]) -> Callable[[httpx.Response], T]:
    def parse(response: httpx.Response) -> T:
        raise_for(response)
        try:
            return read(response.content)
        except _SchemaError as exc:
            msg = f"unexpected response body: {exc}"
            raise GpuvalError(msg, status=response.status_code) from exc

    return parse


class _Base:
    """Request building, the retry policy and response parsing; no I/O."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_wait: float = 30.0,
    ) -> None:
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")
        self.timeout = httpx.Timeout(timeout)
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait
        self._headers = {"Accept": "application/json", "User-Agent": "gpuval-client/1"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.base_url)!r})"

    def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> httpx.Request:
        return httpx.Request(
            method,
            self.base_url.join(path),
            params=params,
            json=None if json is None else to_jsonable_python(json),
            headers=self._headers,
            extensions={"timeout": self.timeout.as_dict()},
        )

    def _quote_call(self, model: str, **kw: Any) -> _Call[Quote]:
        overrides = kw.pop("assumptions", None) or {}
        request = self._request("GET", "quote", params=_query(model=model, **kw, **overrides))
        return _Call(request, _parser(QuoteRead.model_validate_json))

    def _quote_spec_call(self, spec: Mapping[str, Any], **kw: Any) -> _Call[Quote]:
        body = {k: v for k, v in kw.items() if v is not None} | {"spec": dict(spec)}
        return _Call(
            self._request("POST", "quote", json=body), _parser(QuoteRead.model_validate_json)
        )

    def _batch_call(self, requests: list[Mapping[str, Any]]) -> _Call[list[Quote]]:
        def read(content: bytes) -> list[Quote]:
            return QuoteBatchRead.model_validate_json(content).items

        body = {"items": [dict(r) for r in requests]}
        return _Call(self._request("POST", "quote", json=body), _parser(read))

    def _residual_call(self, model: str, *, include_curve: bool, **kw: Any) -> _Call[Residual]:
        overrides = kw.pop("assumptions", None) or {}
        include = "curve" if include_curve else None
        params = _query(model=model, include=include, **kw, **overrides)
        request = self._request("GET", "residual", params=params)
        return _Call(request, _parser(ResidualRead.model_validate_json))

    def _wait(self, attempt: int, outcome: httpx.Response | Exception) -> float | None:
        """Seconds to wait before retrying ``attempt`` (0-based), or None to stop."""
        if attempt >= self.retries:
            return None
        hinted = None
        if isinstance(outcome, Exception):
            reason = type(outcome).__name__
        elif outcome.status_code == 429 or outcome.status_code >= 500:
            reason, hinted = str(outcome.status_code), retry_after(outcome)
        else:
            return None
        ceiling = min(self.max_wait, self.backoff * 2**attempt)
        wait = min(hinted, self.max_wait) if hinted is not None else random.uniform(0, ceiling)
        log.info("gpuval: retry %d/%d in %.2fs after %s", attempt + 1, self.retries, wait, reason)
        return wait

    def _finish(self, call: _Call[T], outcome: httpx.Response | Exception) -> T:
        if isinstance(outcome, Exception):
            raise UnavailableError(
                f"no answer from {self.base_url} after {self.retries + 1} attempt(s): {outcome!r}"
            ) from outcome
        return call.parse(outcome)


class GpuvalClient(_Base):
    """Synchronous client; see the module docstring."""

    def __init__(
        self, base_url: str, *, transport: httpx.BaseTransport | None = None, **options: Any
    ) -> None:
        super().__init__(base_url, **options)
        self._http = httpx.Client(transport=transport, timeout=self.timeout)

    def quote(
        self,
        model: str,
        *,
        term: str = "on_demand",
        as_of: date | None = None,
        gpus: int = 1,
        age_months: float | None = None,
        fp8: bool | None = None,
        fp4: bool | None = None,
        currency: str = "USD",
        known_at: datetime | None = None,
        assumptions: Mapping[str, float] | None = None,
    ) -> Quote:
        """``GET /quote``: fair lease rate for a registered model."""
        return self._send(self._quote_call(model, **_locals(locals())))

    def quote_spec(self, spec: Mapping[str, Any], **options: Any) -> Quote:
        """``POST /quote`` with inline specs; options as for :meth:`quote`."""
        return self._send(self._quote_spec_call(spec, **options))

    def quote_batch(self, requests: list[Mapping[str, Any]]) -> list[Quote]:
        """``POST /quote`` with up to 1,000 items; answered whole or refused whole."""
        return self._send(self._batch_call(requests))

    def residual(
        self,
        model: str,
        *,
        as_of: date | None = None,
        age_months: float | None = None,
        in_service_on: date | None = None,
        premise: str = "market",
        fp8: bool | None = None,
        fp4: bool | None = None,
        currency: str = "USD",
        include_curve: bool = False,
        known_at: datetime | None = None,
        assumptions: Mapping[str, float] | None = None,
    ) -> Residual:
        """``GET /residual``: value of a unit by age, on a premise."""
        return self._send(self._residual_call(model, **_locals(locals())))

    def _send(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            outcome: httpx.Response | Exception
            try:
                outcome = self._http.send(call.request)
            except RETRYABLE_ERRORS as exc:
                outcome = exc
            if (wait := self._wait(attempt, outcome)) is None:
                return self._finish(call, outcome)
            attempt += 1
            time.sleep(wait)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncGpuvalClient(_Base):
    """Asynchronous client (asyncio or trio); the same methods as :class:`GpuvalClient`."""

    def __init__(
        self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None, **options: Any
    ) -> None:
        super().__init__(base_url, **options)
        self._http = httpx.AsyncClient(transport=transport, timeout=self.timeout)

    async def quote(
        self,
        model: str,
        *,
        term: str = "on_demand",
        as_of: date | None = None,
        gpus: int = 1,
        age_months: float | None = None,
        fp8: bool | None = None,
        fp4: bool | None = None,
        currency: str = "USD",
        known_at: datetime | None = None,
        assumptions: Mapping[str, float] | None = None,
    ) -> Quote:
        """``GET /quote``: fair lease rate for a registered model."""
        return await self._send(self._quote_call(model, **_locals(locals())))

    async def quote_spec(self, spec: Mapping[str, Any], **options: Any) -> Quote:
        """``POST /quote`` with inline specs; options as for :meth:`quote`."""
        return await self._send(self._quote_spec_call(spec, **options))

    async def quote_batch(self, requests: list[Mapping[str, Any]]) -> list[Quote]:
        """``POST /quote`` with up to 1,000 items; answered whole or refused whole."""
        return await self._send(self._batch_call(requests))

    async def residual(
        self,
        model: str,
        *,
        as_of: date | None = None,
        age_months: float | None = None,
        in_service_on: date | None = None,
        premise: str = "market",
        fp8: bool | None = None,
        fp4: bool | None = None,
        currency: str = "USD",
        include_curve: bool = False,
        known_at: datetime | None = None,
        assumptions: Mapping[str, float] | None = None,
    ) -> Residual:
        """``GET /residual``: value of a unit by age, on a premise."""
        return await self._send(self._residual_call(model, **_locals(locals())))

    async def _send(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            outcome: httpx.Response | Exception
            try:
                outcome = await self._http.send(call.request)
            except RETRYABLE_ERRORS as exc:
                outcome = exc
            if (wait := self._wait(attempt, outcome)) is None:
                return self._finish(call, outcome)
            attempt += 1
            await anyio.sleep(wait)

    async def aclose(self) -> None:
        await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _locals(values: dict[str, Any]) -> dict[str, Any]:
    """A method's keyword arguments, as passed on to the request builders."""
    return {k: v for k, v in values.items() if k not in ("self", "model", "__class__")}
