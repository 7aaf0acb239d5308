"""The MCP server over streamable HTTP: an ASGI endpoint that authenticates bearer tokens first."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager

from mcp.server.mcpserver import Context
from mcp.server.transport_security import TransportSecuritySettings
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from paperfeed.config import Settings
from paperfeed.errors import Unauthorized
from paperfeed.mcpserver.server import build
from paperfeed.service import tokens
from paperfeed.store import Database

SCOPE_KEY = "paperfeed.principal"  # where the endpoint leaves the caller for the tools


def _principal_of(ctx: Context) -> tokens.Principal | None:
    request = ctx.request_context.request
    scope = getattr(request, "scope", None) or {}
    principal = scope.get(SCOPE_KEY)
    return principal if isinstance(principal, tokens.Principal) else None


def bearer_secret(scope: Scope) -> str | None:
    """The secret of an `Authorization: Bearer …` header ("" when malformed), None without one."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, secret = value.decode("latin-1").partition(" ")
            return secret.strip() if kind.lower() == "bearer" else ""
    return None


class McpEndpoint:
    """ASGI app answering MCP at one path; no token is an anonymous caller, a bad token a 401."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.server = build(db, settings, _principal_of)
        # Stateless: each POST is answered on its own, so `serve --workers N` needs no sticky
        # sessions and every request is authenticated by its own header. The bearer token, not
        # the Host header, guards members' data, so the SDK's DNS-rebinding check stays off
        # (it would refuse every public host name).
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = self.server.session_manager

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        """The session manager's task group, which must run while the app serves."""
        return self.manager.run()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one MCP request as the bearer token's member, or anonymously without one."""
        secret = bearer_secret(scope)
        if secret is not None:
            try:
                principal = await run_in_threadpool(tokens.authenticate, self.db, secret)
            except Unauthorized as exc:
                await _unauthorized(send, str(exc))
                return
            scope = {**scope, SCOPE_KEY: principal}
        await self.manager.handle_request(scope, receive, send)


async def _unauthorized(send: Send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="paperfeed"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
