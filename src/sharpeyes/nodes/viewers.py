"""A media node's viewer listener: every request carries a control-node token (Ed25519),
checked here with only the public key before anything about the stream is revealed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sharpeyes.nodes.tokens import TokenRefused, load_public, verify


def viewer_app(
    node_id: str,
    public_key_file: str | None,
    holds: Callable[[str], bool],
    wall: Callable[[], float] = time.time,
) -> Starlette:
    pub = load_public(Path(public_key_file).read_bytes()) if public_key_file else None

    async def hls_index(request: Request) -> JSONResponse:
        stream = request.path_params["stream"]
        if pub is None:
            return JSONResponse(
                {"detail": "no token key configured", "code": "no_token_key"}, status_code=503
            )
        try:
            claims = verify(pub, request.query_params.get("token", ""), node=node_id, now=wall())
        except TokenRefused as e:
            return JSONResponse({"detail": str(e), "code": "token_refused"}, status_code=403)
        if claims.stream != stream:
            return JSONResponse(
                {"detail": "token for another stream", "code": "token_refused"}, status_code=403
            )
        if not holds(stream):
            return JSONResponse(
                {"detail": "stream not on this node", "code": "not_found"}, status_code=404
            )
        return JSONResponse(
            {"detail": "HLS output is not served by media nodes yet", "code": "not_implemented"},
            status_code=501,
        )

    return Starlette(routes=[Route("/api/streams/{stream}/hls/index.m3u8", hls_index)])
