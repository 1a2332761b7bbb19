"""The Claude API (or anything speaking it) behind the gateway: one pooled aiohttp session.

aiohttp is the upstream client because it is the one place a proxy's throughput is decided: a
pooled keep-alive session with no per-request client objects (measured in docs/benchmarks.md).
Bodies are sent and read as bytes; compression is refused (``accept-encoding: identity``) so the
gateway can read usage from what passes through, and nothing is decompressed or re-encoded.

Connection failures become the API's own error shapes (see docs/gateway.md): an upstream that
can't be reached or drops the connection before answering is 502 ``api_error``; one that does not
answer in time is 504 ``timeout_error``. SDKs retry both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from clawback.gateway.wire import GatewayRefusal
from clawback.redact import redact

__all__ = ["STREAM_ERRORS", "Upstream", "UpstreamResponse"]

UpstreamResponse = aiohttp.ClientResponse
STREAM_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)
"""What reading a response body can raise when upstream cuts it off or stalls."""


class Upstream:
    """Sends requests to ``base_url`` over one keep-alive connection pool."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 600.0,
        connect_timeout_s: float = 10.0,
        connections: int = 256,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=0, ttl_dns_cache=300)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            read_bufsize=2**16,
        )

    async def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> UpstreamResponse:
        """Start one request; the response's body is read by the caller (who must release it)."""
        session = self._session
        if session is None:
            session = self._session = self._open()
        try:
            return await session.request(method, self.base_url + path, headers=headers, data=body)
        except TimeoutError:
            raise GatewayRefusal(504, "clawback gateway: the upstream API did not answer in time") from None
        except (aiohttp.InvalidURL, ValueError) as exc:  # a header or path no HTTP request may carry
            raise GatewayRefusal(
                400, f"clawback gateway: the request can't be forwarded: {redact(_describe(exc))}"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise GatewayRefusal(
                502, f"clawback gateway: cannot reach the upstream API: {redact(_describe(exc))}"
            ) from None

    async def close(self) -> None:
        """Close the pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def header_items(response: Any) -> list[tuple[str, str]]:
    """The response's headers as (name, value) pairs, repeated names kept."""
    return list(response.headers.items())
