"""An agent's session with paperfeed through the MCP SDK's real client, run as its own process.

python tests/_mcp_client.py stdio|http TARGET TOKEN-OR-"-" PLAN
TARGET is the paperfeed database URL (stdio: the client spawns `python -m paperfeed mcp`) or the
server's /mcp URL (http). PLAN names what to do. Prints one JSON line of what the agent saw, so
the test can run this under the newest SDK (the test venv) and the oldest supported one
(PYTHONPATH to a pip --target folder).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def _call(session: ClientSession, name: str, **args: Any) -> dict[str, Any]:
    res = await session.call_tool(name, args)
    data = res.structured_content
    if isinstance(data, dict) and set(data) == {"result"}:
        data = data["result"]  # a tool returning str is wrapped as {"result": ...}
    return {"error": res.is_error, "text": _text(res), "data": data}


async def _session(stack: AsyncExitStack, transport: str, target: str, token: str) -> ClientSession:
    if transport == "stdio":
        env = {k: v for k, v in os.environ.items() if k.startswith(("PAPERFEED_", "PYTHON"))}
        env |= {"PATH": os.environ.get("PATH", ""), "PAPERFEED_DATABASE_URL": target}
        if token:
            env["PAPERFEED_MCP_TOKEN"] = token
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "paperfeed", "mcp"], env=env
        )
        read, write = await stack.enter_async_context(stdio_client(params))
    else:
        import httpx2

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
        read, write = await stack.enter_async_context(
            streamable_http_client(target, http_client=client)
        )
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def agent(session: ClientSession) -> dict[str, Any]:
    """Find today's papers on a topic, read one, save it, see it in the library, upvote it."""
    out: dict[str, Any] = {"sdk": version("mcp")}
    tools = await session.list_tools()
    out["tools"] = sorted(t.name for t in tools.tools)
    out["descriptions"] = {t.name: t.description for t in tools.tools}
    out["search_schema"] = next(t.input_schema for t in tools.tools if t.name == "search_papers")
    out["daily"] = await _call(session, "list_daily_papers", limit=3)
    out["search"] = await _call(session, "search_papers", query="agent", mode="keyword", limit=5)
    out["page2"] = await _call(
        session, "search_papers", query="agent", mode="keyword", limit=5, page=1
    )
    pid = out["search"]["data"]["papers"][0]["id"]
    out["paper"] = await _call(session, "get_paper", paper_id=pid)
    md = await session.read_resource(f"paperfeed://papers/{pid}.md")
    out["resource_md"] = getattr(md.contents[0], "text", None)
    latest = await session.read_resource("paperfeed://papers/daily/latest")
    out["resource_latest"] = json.loads(getattr(latest.contents[0], "text", "null"))
    out["saved"] = await _call(session, "save_paper", paper_id=pid)
    out["library"] = await _call(session, "my_library")
    out["upvote"] = await _call(session, "upvote", paper_id=pid)
    out["hide"] = await _call(session, "hide_paper", paper_id=pid)
    out["recommendations"] = await _call(session, "my_recommendations", limit=5)
    out["follow"] = await _call(session, "follow", kind="paper_version", target=pid)
    out["follow_nobody"] = await _call(session, "follow", kind="author", target="Nobody Atall")
    out["follows"] = await _call(session, "my_follows")
    out["missing"] = await _call(session, "get_paper", paper_id="2101.99999")
    out["bad_date"] = await _call(session, "list_daily_papers", date="2024-02-30")
    out["pid"] = pid
    return out


async def reader(session: ClientSession) -> dict[str, Any]:
    """A read token (or none): public reads and the library work, changes are refused."""
    out: dict[str, Any] = {}
    out["trending"] = await _call(session, "list_trending", limit=2)
    out["library"] = await _call(session, "my_library")
    out["save"] = await _call(session, "save_paper", paper_id="2608.19880")
    out["upvote"] = await _call(session, "upvote", paper_id="2608.19880")
    out["follow"] = await _call(session, "follow", kind="paper_version", target="2608.19880")
    return out


async def burst(session: ClientSession) -> dict[str, Any]:
    """Upvote and take back in a loop until the write limit refuses."""
    seen = []
    for i in range(8):
        seen.append(await _call(session, "upvote", paper_id="2608.19880", remove=bool(i % 2)))
    return {"calls": seen}


async def reading(session: ClientSession) -> dict[str, Any]:
    """Read a paper whose full text is stored and one without, as the tool and as the resource."""
    out: dict[str, Any] = {}
    for pid in ("2501.11120", "2608.19880"):
        out[pid] = await _call(session, "get_paper", paper_id=pid)
    md = await session.read_resource("paperfeed://papers/2501.11120.md")
    out["resource"] = getattr(md.contents[0], "text", None)
    return out


async def main(transport: str, target: str, token: str, plan: str) -> None:
    async with AsyncExitStack() as stack:
        try:
            session = await _session(stack, transport, target, "" if token == "-" else token)
        except BaseException as exc:  # the refusal of a bad token, as the agent sees it
            print(json.dumps({"connect_error": repr(exc)[:2000]}))
            return
        result = await {"agent": agent, "reader": reader, "burst": burst, "reading": reading}[plan](
            session
        )
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    transport, target, token, plan = sys.argv[1:5]
    anyio.run(main, transport, target, token, plan)
