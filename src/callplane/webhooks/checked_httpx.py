"""An httpx transport that sends each request only where the outbound request policy allows.

For the fetchers that use httpx (``<Play>`` audio, the flow HTTP Request node):
the host is resolved and checked (:mod:`callplane.webhooks.ssrf`), and the request
goes to the checked address itself, with the original ``Host`` header and TLS
server name, so DNS rebinding cannot move it. httpx hands every redirect hop
to the transport again, so each hop is checked.
"""

from __future__ import annotations

from typing import Any

import httpx

from callplane.webhooks.ssrf import REFUSED, OutboundPolicy, Reach, RefusedURL

_DEFAULT_PORTS = {b"http": 80, b"https": 443}


class RefusedRequest(httpx.ConnectError):
    """The policy refused the request's host (says nothing more about it)."""


class CheckedTransport(httpx.AsyncBaseTransport):
    def __init__(self, policy: OutboundPolicy, reach: Reach) -> None:
        self._policy = policy
        self._reach = reach
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or _DEFAULT_PORTS.get(url.raw_scheme, 0)
        try:
            addresses = await self._policy.resolve(url.host, port, self._reach)
        except RefusedURL:
            raise RefusedRequest(REFUSED, request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {url.host}", request=request) from exc
        failure: httpx.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.handle_async_request(_pinned(request, address))
            except httpx.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def aclose(self) -> None:
        await self._inner.aclose()


def checked_client(policy: OutboundPolicy, reach: Reach, **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request (and redirect) passes the policy.

    Proxies from the environment are not used: they would carry requests past the transport.
    """
    transport = CheckedTransport(policy, reach)
    return httpx.AsyncClient(transport=transport, trust_env=False, **options)


def _pinned(request: httpx.Request, address: str) -> httpx.Request:
    """``request`` sent to ``address``; ``Host`` and the TLS name stay the URL's host."""
    return httpx.Request(
        request.method,
        request.url.copy_with(host=address),
        headers=request.headers,
        stream=request.stream,
        extensions={**request.extensions, "sni_hostname": request.url.host},
    )
