"""A tiny client for the sharpeyes open API (signed requests, no bearer token).

    python -m examples.sharpeyes_client http://127.0.0.1:8080 <app_key> <app_secret> /api/channels

Every request carries X-SE-Key, X-SE-Timestamp (unix seconds), X-SE-Nonce (random,
>= 16 characters) and X-SE-Signature = base64(HMAC-SHA256(app_secret, canonical)),
canonical = METHOD \\n PATH \\n SORTED_QUERY \\n TIMESTAMP \\n NONCE \\n HEX_SHA256(BODY).
See docs/api.md for a worked example.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import sys
import time
from typing import Any

import httpx


def canonical(
    method: str, path: str, query: list[tuple[str, str]], ts: str, nonce: str, body: bytes
) -> str:
    sorted_query = "&".join(f"{k}={v}" for k, v in sorted(query))
    return "\n".join(
        [method.upper(), path, sorted_query, ts, nonce, hashlib.sha256(body).hexdigest()]
    )


def signature(secret: str, text: str) -> str:
    return base64.b64encode(
        hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    ).decode()


def signed_headers(
    key: str,
    secret: str,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    body: bytes,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    ts = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    return {
        "X-SE-Key": key,
        "X-SE-Timestamp": ts,
        "X-SE-Nonce": nonce,
        "X-SE-Signature": signature(secret, canonical(method, path, query, ts, nonce, body)),
    }


class SignedClient:
    """``async with SignedClient(base, key, secret) as c: await c.get("/api/channels")``."""

    def __init__(self, base_url: str, key: str, secret: str) -> None:
        self.key, self.secret = key, secret
        self._http = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def __aenter__(self) -> SignedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json_body: Any = None
    ) -> httpx.Response:
        body = b"" if json_body is None else json.dumps(json_body).encode()
        query = list((params or {}).items())
        headers = signed_headers(self.key, self.secret, method, path, query, body)
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        return await self._http.request(method, path, params=params, content=body, headers=headers)

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.request("GET", path, params=params or None)

    async def post(self, path: str, json_body: Any = None) -> httpx.Response:
        return await self.request(
            "POST", path, json_body=json_body if json_body is not None else {}
        )


async def _main(base: str, key: str, secret: str, path: str) -> None:
    async with SignedClient(base, key, secret) as c:
        r = await c.get(path)
        print(r.status_code, r.text)


if __name__ == "__main__":
    asyncio.run(_main(*sys.argv[1:5]))
