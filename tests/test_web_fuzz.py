"""Property test: every route of the app, under every method, answers odd input with 4xx, never 5xx."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from _web_helpers import seed
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from paperfeed.config import Settings
from paperfeed.store import Database, open_database
from paperfeed.store import comments as comment_store
from paperfeed.store import library as library_store
from paperfeed.store import sessions as session_store
from paperfeed.store import subscriptions as subscription_store
from paperfeed.store import users as user_store
from paperfeed.web.app import create_app

WEB = Path(__file__).resolve().parent.parent / "paperfeed" / "web"
EXAMPLES = 6  # per route and method: about 100 of them, so the whole walk stays under a minute
TOKEN = "fuzz-unsubscribe-token-0123456789"


def names_read(pattern: str) -> list[str]:
    """Parameter names the web handlers read, found in their source (so new ones are fuzzed too)."""
    found = set()
    for path in WEB.glob("*.py"):
        found.update(re.findall(pattern, path.read_text()))
    return sorted(found)


QUERY_NAMES = names_read(r"(?:query_params|\bq)\.get\(\s*\"(\w+)\"") + ["p", "limit", "q"]
FORM_NAMES = names_read(r"(?:form|fields)\.get\(\s*f?\"(\w+)\"") + ["collection", "search_0"]

# Values that broke handlers before, beside anything hypothesis makes up.
NASTY = [
    str(2**63),
    str(2**63 - 1),
    str(2**64),
    "9" * 400,
    "-1",
    "-9223372036854775809",
    "0",
    "1e308",
    "NaN",
    "²",  # isdigit() is True, int() fails
    "١٢٣",  # Arabic-Indic digits: int() accepts them
    "\x00",
    "a\x00b",
    "\u202e",
    "\ufeff",
    "x" * 20_000,
    "../../etc/passwd",
    "<script>",
    "2405.00001",
    "hep-th/9901001",
    "2024-05-29",
    "2024-W22",
    "2024-05",
    "9999-12-31",
    "0000-00-00",
    TOKEN,
]
# Percent escapes put into URLs verbatim: an escaped surrogate half, a lone byte, NUL.
RAW_ESCAPES = ["%ED%A0%80", "%FF", "%00", "%C0%AF", "%"]

values = st.one_of(
    st.sampled_from(NASTY),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), min_size=200, max_size=3000),
)


@dataclass
class Site:
    """The app on SQLite with sample-like data, and clients for a visitor and a member."""

    anonymous: TestClient
    member: TestClient
    csrf: str
    ids: dict[str, str]
    db: Database

    def sign_in_again(self) -> None:
        """Give the member a new session (after a fuzzed POST /logout ended it) and its token."""
        with self.db.write() as conn:
            token = session_store.create_session(conn, int(self.ids["user"]), days=1)
        self.member.cookies.set("pf_session", token)
        m = re.search(r'name="csrf_token" value="([^"]+)"', self.member.get("/settings").text)
        assert m
        self.csrf = m.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("fuzz")
    db = open_database(f"sqlite:///{tmp / 'fuzz.db'}")
    conf = Settings(
        database_url=db.url,
        data_dir=str(tmp / "data"),
        base_url="http://testserver",
        mail_backend="console",
        login_rate_limit=10**6,
        mail_rate_limit=10**6,
        write_rate_limit=10**6,
        submission_daily_cap=10**6,
    )
    ids = _sample_data(db, conf)
    member = TestClient(create_app(conf, db), raise_server_exceptions=False)
    anonymous = TestClient(create_app(conf, db), raise_server_exceptions=False)
    fuzz = Site(anonymous, member, "", ids, db)
    fuzz.sign_in_again()
    yield fuzz
    db.dispose()


def _sample_data(db: Database, conf: Settings) -> dict[str, str]:
    seed(db)
    with db.write() as conn:
        user = user_store.create_user(conn, "ada@example.org", "Ada", verified=True)
        comment = comment_store.add_comment(conn, "2405.00001", user.id, "A first comment.")
        col = library_store.get_or_create_collection(conn, user.id, "Reading")
        library_store.save(conn, user.id, "2405.00002", [col.id])
        subscription_store.subscribe_member(
            conn,
            user.id,
            user.email,
            unsubscribe_token=TOKEN,
            frequency="daily",
            sections=["top"],
            timezone="UTC",
            hour=7,
        )
    try:
        from paperfeed.search.sync import run_index
    except ImportError:  # the search extra is not installed: search routes answer 503 by design
        pass
    else:
        run_index(db, conf, embed=False)
    return {"comment": str(comment.id), "collection": str(col.id), "user": str(user.id)}


def route_table() -> list[tuple[str, str]]:
    """(path template, method) for every route of the app, HEAD twins and static files included."""
    app = create_app(Settings(), Database("sqlite://"))
    table = []
    for route in app.routes:
        if isinstance(route, Mount):
            table.append((route.path + "/{path:path}", "GET"))
        elif isinstance(route, Route):
            table += [(route.path, m) for m in sorted(route.methods or ())]
    assert len(table) > 80, table
    return table


PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


@st.composite
def requests(draw: st.DrawFn, template: str, method: str, ids: dict[str, str]) -> dict:
    """A request to one route: fuzzed path parameters, query string and form."""

    def piece(name: str, convertor: str | None) -> str:
        choice = draw(st.integers(0, 5))
        if choice == 0 and name in ("comment_id", "collection"):
            return ids["comment" if name == "comment_id" else "collection"]
        if choice == 1:
            return draw(st.sampled_from(RAW_ESCAPES))
        value = draw(values) or "x"
        return quote(value, safe="/" if convertor == "path" else "")

    path = PARAM.sub(lambda m: piece(m.group(1), m.group(2)), template)
    query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), values, max_size=4))
    qs = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
    if draw(st.booleans()):
        qs += "&" + draw(st.sampled_from(RAW_ESCAPES)) + "=" + draw(st.sampled_from(RAW_ESCAPES))
    form: dict[str, str] = {}
    if method == "POST":
        form = draw(st.dictionaries(st.sampled_from(FORM_NAMES), values, max_size=6))
        if draw(st.integers(0, 5)) == 0:
            form.update({f"f{i}": "x" for i in range(60)})  # more than the 50 fields parsed
    return {
        "url": path + ("?" + qs.lstrip("&") if qs else ""),
        "form": form,
        "member": draw(st.booleans()),
        "csrf": draw(st.integers(0, 3)) > 0,
    }


@pytest.mark.parametrize(("template", "method"), route_table())
def test_no_route_answers_odd_input_with_a_server_error(
    site: Site, template: str, method: str
) -> None:
    budget = time.monotonic() + 5.0  # a slow route (argon2 on every sign-in) gets fewer examples

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(req=requests(template, method, site.ids))
    def check(req: dict) -> None:
        if time.monotonic() > budget:
            return
        client = site.member if req["member"] else site.anonymous
        form = dict(req["form"])
        if req["csrf"] and method == "POST":
            form["csrf_token"] = site.csrf
        if method == "POST":
            r = client.request(method, req["url"], data=form, follow_redirects=False)
        else:
            r = client.request(method, req["url"], follow_redirects=False)
        if template == "/logout" and req["member"]:
            site.sign_in_again()
        assert r.status_code < 500, (
            f"{method} {req['url'][:300]} -> {r.status_code}: {r.text[:300]}"
        )

    check()
