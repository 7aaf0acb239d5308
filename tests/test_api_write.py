"""The JSON write API over a real uvicorn server: bearer tokens, cookies with CSRF, the page's rules."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _community_helpers import community_site
from _web_helpers import seed, serve

from paperfeed.models import User
from paperfeed.service import tokens
from paperfeed.store import Database
from paperfeed.store import papers as paper_store
from paperfeed.store import sessions as session_store
from paperfeed.store import users as user_store
from paperfeed.store.schema import api_tokens, feed_entries
from paperfeed.web import create_app

PAPER = "2405.00002"  # seeded, visible, on a feed day
HIDDEN = "2405.00004"  # seeded, then hidden by a curator
NEW = "1707.08567"  # not stored: the loopback arXiv API knows it
INDEXABLE = "1605.08386"  # not stored either, also known upstream
UNKNOWN = "0808.05394"  # the loopback arXiv API answers "not found"


@dataclass
class Api:
    """A running site, its database, a member and their read and write tokens."""

    base: str
    db: Database
    ada: User
    read: str
    write: str

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        """One request with a bearer token (or none), as a script would send it."""
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kw)


def _member(db: Database, email: str, role: str = "member") -> User:
    with db.write() as conn:
        return user_store.create_user(
            conn, email, email.split("@")[0].title(), role=role, verified=True
        )


@contextmanager
def api_site(db: Database, tmp: Path, **overrides: object) -> Iterator[Api]:
    """Seeded papers (one hidden), a member with a read and a write token, uvicorn on loopback."""
    seed(db)
    with db.write() as conn:
        paper_store.set_hidden(conn, HIDDEN, True)
    ada = _member(db, "ada@example.org")
    read = tokens.create_token(db, ada, name="reader").secret
    write = tokens.create_token(db, ada, scope="write", name="writer").secret
    settings = {"submission_max_age_days": 100_000, **overrides}
    with community_site(db, tmp, **settings) as site, serve(create_app(site.settings, db)) as base:
        yield Api(base, db, ada, read, write)


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    message = r.json()["error"]
    assert isinstance(message, str) and message
    return message


def test_tokens_act_as_their_member_within_their_scope(db: Database, tmp_path: Path) -> None:
    with api_site(db, tmp_path) as api:
        me = api.call("GET", "/api/me", api.read)
        assert me.status_code == 200, me.text
        assert me.json()["user"] == api.ada.username
        assert me.json()["token"]["scope"] == "read"
        assert api.call("GET", "/api/me", api.write).json()["token"]["scope"] == "write"
        # The member-only reads that predate tokens take them too.
        assert api.call("GET", "/api/library", api.read).json() == {"collections": [], "hidden": []}
        assert api.call("GET", "/api/library").status_code == 401
        # A read token reads, but may not write.
        msg = _error(api.call("POST", f"/api/papers/{PAPER}/upvote", api.read), 403)
        assert "read-only" in msg
        r = api.call("POST", f"/api/papers/{PAPER}/upvote", api.write)
        assert r.status_code == 200, r.text
        assert r.json() == {"id": PAPER, "upvotes": 41, "voted": True}
        again = api.call("POST", f"/api/papers/{PAPER}/upvote", api.write)
        assert again.json()["upvotes"] == 41  # a repeat changes nothing
        down = api.call("DELETE", f"/api/papers/{PAPER}/upvote", api.write)
        assert down.json() == {"id": PAPER, "upvotes": 40, "voted": False}
        # The page shows what the token did: the count went back.
        assert api.call("GET", f"/api/papers/{PAPER}").json()["upvotes"] == 40
        with api.db.read() as conn:
            used = conn.execute(sa.select(api_tokens.c.last_used_at, api_tokens.c.name)).all()
        assert {name for at, name in used if at is not None} == {"reader", "writer"}


def test_missing_unknown_revoked_and_expired_tokens_get_401_json(
    db: Database, tmp_path: Path
) -> None:
    with api_site(db, tmp_path) as api:
        r = api.call("POST", f"/api/papers/{PAPER}/upvote")
        assert "sign in" in _error(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        bogus = "pf_" + "x" * 43
        r = api.call("GET", "/api/daily_papers", bogus)  # reads refuse a bad token too
        assert "unknown" in _error(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        # huggingface_hub sends a configured Hub token everywhere: public reads ignore it ...
        assert api.call("GET", "/api/daily_papers", "hf_abcdef").status_code == 200
        # ... but a write with it is refused.
        _error(api.call("POST", f"/api/papers/{PAPER}/upvote", "hf_abcdef"), 401)
        # Pages never take tokens: a bad one changes nothing there.
        page = api.call("GET", "/", bogus)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")

        victim = tokens.create_token(api.db, api.ada, scope="write")
        assert api.call("GET", "/api/me", victim.secret).status_code == 200
        tokens.revoke_token(api.db, api.ada, victim.token.id)
        r = api.call("POST", f"/api/papers/{PAPER}/upvote", victim.secret)
        assert "revoked" in _error(r, 401)
        assert r.headers.get("location") is None  # never a redirect to the sign-in page

        old = tokens.create_token(api.db, api.ada, scope="write", expires_days=1)
        past = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
        with api.db.write() as conn:
            conn.execute(
                sa.update(api_tokens).where(api_tokens.c.id == old.token.id).values(expires_at=past)
            )
        assert "expired" in _error(api.call("GET", "/api/me", old.secret), 401)
        with api.db.read() as conn:  # nothing was voted by the refused requests
            assert paper_store.get_paper(conn, PAPER).upvotes == 40  # type: ignore[union-attr]


def _cookie_client(api: Api) -> tuple[httpx.Client, str]:
    """A browser-like client signed in as Ada, and the CSRF token her pages carry."""
    with api.db.write() as conn:
        session = session_store.create_session(conn, api.ada.id, days=1)
    client = httpx.Client(base_url=api.base, cookies={"pf_session": session}, timeout=30)
    page = client.get("/submit")
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m, page.text[:500]
    return client, m.group(1)


def test_cookie_writes_need_csrf_and_same_origin_bearer_writes_need_neither(
    db: Database, tmp_path: Path
) -> None:
    with api_site(db, tmp_path) as api:
        client, csrf = _cookie_client(api)
        with closing(client):
            assert client.get("/api/me").json()["token"] is None  # reads by cookie work
            refused = client.post(f"/api/papers/{PAPER}/upvote")
            assert "expired" in _error(refused, 403) or "site" in refused.json()["error"]
            ok = client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": csrf})
            assert ok.status_code == 200, ok.text
            evil = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
            _error(client.delete(f"/api/papers/{PAPER}/upvote", headers=evil), 403)
        # A bearer request carries no ambient credential: no CSRF token, any Origin.
        r = api.call(
            "DELETE",
            f"/api/papers/{PAPER}/upvote",
            api.write,
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 200 and r.json()["voted"] is False, r.text


def test_write_limit_is_counted_per_token(db: Database, tmp_path: Path) -> None:
    with api_site(db, tmp_path, write_rate_limit=3) as api:
        other = tokens.create_token(api.db, api.ada, scope="write").secret
        codes = [
            api.call("POST", f"/api/papers/{PAPER}/upvote", api.write).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        r = api.call("POST", f"/api/papers/{PAPER}/upvote", api.write)
        assert "too many" in _error(r, 429)
        assert 0 < int(r.headers["retry-after"]) <= 60
        # Another token of the same member has its own budget, and so does her browser.
        assert api.call("DELETE", f"/api/papers/{PAPER}/upvote", other).status_code == 200
        client, csrf = _cookie_client(api)
        with closing(client):
            ok = client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": csrf})
            assert ok.status_code == 200, ok.text


def test_submit_and_index_follow_the_submission_rules(db: Database, tmp_path: Path) -> None:
    with api_site(db, tmp_path) as api:
        long = "x" * 20_000
        r = api.call(
            "POST", "/api/papers/submit", api.write, json={"paperId": NEW, "comment": long}
        )
        assert "limit" in _error(r, 400)
        with api.db.read() as conn:  # the refused comment featured nothing
            assert paper_store.get_paper(conn, NEW) is None
        r = api.call(
            "POST", "/api/papers/submit", api.write, json={"paperId": NEW, "comment": "Worth it"}
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["id"] == NEW and body["title"]
        assert body["comment"]["text"] == "Worth it"
        assert body["comment"]["author"]["user"] == api.ada.username
        with api.db.read() as conn:
            listed = conn.execute(
                sa.select(feed_entries.c.submitted_by).where(feed_entries.c.paper_id == NEW)
            ).all()
        assert [row[0] for row in listed] == [api.ada.username]
        assert "already submitted" in _error(
            api.call("POST", "/api/papers/submit", api.write, json={"paperId": NEW}), 409
        )
        assert "already featured" in _error(
            api.call("POST", "/api/papers/submit", api.write, json={"paperId": PAPER}), 409
        )
        assert "hidden" in _error(
            api.call("POST", "/api/papers/submit", api.write, json={"paperId": HIDDEN}), 403
        )
        _error(api.call("POST", "/api/papers/submit", api.write, json={"paperId": "nope"}), 404)
        _error(api.call("POST", "/api/papers/submit", api.write, json={"paper": NEW}), 400)
        _error(api.call("POST", "/api/papers/submit", api.read, json={"paperId": NEW}), 403)

        r = api.call("POST", "/api/papers/index", api.write, json={"arxivId": INDEXABLE})
        assert r.status_code == 201 and r.json()["created"] is True, r.text
        r = api.call("POST", "/api/papers/index", api.write, json={"arxivId": INDEXABLE})
        assert r.status_code == 200 and r.json()["created"] is False
        assert api.call("GET", f"/api/papers/{INDEXABLE}").status_code == 200
        with api.db.read() as conn:  # indexed, not featured
            days = conn.execute(
                sa.select(sa.func.count())
                .select_from(feed_entries)
                .where(feed_entries.c.paper_id == INDEXABLE)
            ).scalar_one()
        assert days == 0
        _error(api.call("POST", "/api/papers/index", api.write, json={"arxivId": UNKNOWN}), 404)
        _error(api.call("POST", "/api/papers/index", api.write, json={"arxivId": HIDDEN}), 403)


def test_submission_cap_applies_to_tokens(db: Database, tmp_path: Path) -> None:
    with api_site(db, tmp_path, submission_daily_cap=1) as api:
        ok = api.call("POST", "/api/papers/submit", api.write, json={"paperId": NEW})
        assert ok.status_code == 201, ok.text
        r = api.call("POST", "/api/papers/submit", api.write, json={"paperId": INDEXABLE})
        assert "daily limit" in _error(r, 429)
        assert int(r.headers["retry-after"]) > 0


def test_comments_add_edit_delete_with_the_page_rules(db: Database, tmp_path: Path) -> None:
    with api_site(db, tmp_path) as api:
        bob = tokens.create_token(api.db, _member(api.db, "bob@example.org"), scope="write")
        r = api.call("POST", f"/api/papers/{PAPER}/comments", api.write, json={"text": " Nice "})
        assert r.status_code == 201, r.text
        c = r.json()
        assert (c["paperId"], c["text"], c["deleted"]) == (PAPER, "Nice", False)
        listed = api.call("GET", f"/api/papers/{PAPER}/comments").json()
        assert [x["id"] for x in listed] == [c["id"]]
        _error(api.call("POST", f"/api/papers/{PAPER}/comments", api.write, json={"text": ""}), 400)
        _error(
            api.call("POST", f"/api/papers/{HIDDEN}/comments", api.write, json={"text": "x"}), 404
        )
        path = f"/api/comments/{c['id']}"
        assert "author" in _error(api.call("PATCH", path, bob.secret, json={"text": "mine"}), 403)
        _error(api.call("DELETE", path, bob.secret), 403)
        r = api.call("PATCH", path, api.write, json={"text": "Nicer"})
        assert r.status_code == 200 and r.json()["text"] == "Nicer" and r.json()["editedAt"]
        r = api.call("DELETE", path, api.write)
        assert r.json() == {"id": c["id"], "deleted": True}
        _error(api.call("DELETE", path, api.write), 404)
        _error(api.call("PATCH", "/api/comments/999999", api.write, json={"text": "x"}), 404)


def test_library_save_hide_and_collections(db: Database, tmp_path: Path) -> None:
    with api_site(db, tmp_path) as api:
        r = api.call("POST", "/api/library/save", api.write, json={"paperId": PAPER})
        assert r.status_code == 200, r.text
        assert r.json()["added"] == 1
        lib = api.call("GET", "/api/me/library", api.read).json()
        assert [(c["name"], c["papers"]) for c in lib["collections"]] == [("Saved", [PAPER])]
        _error(api.call("POST", "/api/library/save", api.write, json={"paperId": HIDDEN}), 404)
        _error(api.call("POST", "/api/library/save", api.read, json={"paperId": PAPER}), 403)

        r = api.call("POST", "/api/library/collections", api.write, json={"name": "Reading"})
        assert r.status_code == 201, r.text
        col = r.json()
        assert (col["name"], col["size"]) == ("Reading", 0)
        _error(
            api.call("POST", "/api/library/collections", api.write, json={"name": "reading"}), 409
        )
        _error(api.call("POST", "/api/library/collections", api.write, json={"name": " "}), 400)
        add = api.call(
            "POST", "/api/library/collections/Reading/papers", api.write, json={"paperId": PAPER}
        )
        assert add.status_code == 200 and col["id"] in add.json()["collections"], add.text
        _error(
            api.call(
                "POST", "/api/library/collections/Nope/papers", api.write, json={"paperId": PAPER}
            ),
            404,
        )
        gone = api.call("DELETE", f"/api/library/collections/{col['id']}/papers/{PAPER}", api.write)
        assert gone.json() == {"id": PAPER, "removed": 1}
        r = api.call("POST", "/api/library/unsave", api.write, json={"paperId": PAPER})
        assert r.json() == {"id": PAPER, "removed": 1}

        assert api.call(
            "POST", "/api/library/hide", api.write, json={"paperId": "2405.00001"}
        ).json() == {
            "id": "2405.00001",
            "hidden": True,
        }
        assert api.call("GET", "/api/me/library", api.read).json()["hidden"] == ["2405.00001"]
        r = api.call("POST", "/api/library/unhide", api.write, json={"paperId": "2405.00001"})
        assert r.json()["hidden"] is False
        assert api.call("GET", "/api/me/library", api.read).json()["hidden"] == []

        r = api.call("DELETE", "/api/library/collections/Reading", api.write)
        assert r.json() == {"id": col["id"], "deleted": True}
        _error(api.call("DELETE", "/api/library/collections/Reading", api.write), 404)
        names = [
            c["name"] for c in api.call("GET", "/api/me/library", api.read).json()["collections"]
        ]
        assert names == ["Saved"]


def test_follows_list_create_and_delete(db: Database, tmp_path: Path) -> None:
    with api_site(db, tmp_path) as api:
        assert api.call("GET", "/api/me/follows", api.read).json() == []
        assert api.call("GET", "/api/me/follows").status_code == 401
        body = {"kind": "author", "target": "Ada Lovelace"}
        assert "read-only" in _error(api.call("POST", "/api/follows", api.read, json=body), 403)
        made = api.call("POST", "/api/follows", api.write, json=body)
        assert made.status_code == 201, made.text
        ada = made.json()
        assert ada["kind"] == "author" and ada["target"] == "ada-lovelace"
        assert ada["label"] == "Ada Lovelace" and ada["mode"] is None
        again = api.call("POST", "/api/follows", api.write, json=body)
        assert again.status_code == 200 and again.json()["id"] == ada["id"]  # already followed
        search = {"kind": "search", "target": "graph  neural", "mode": "meaning"}
        s = api.call("POST", "/api/follows", api.write, json=search)
        assert s.status_code == 201 and s.json()["mode"] == "meaning", s.text
        # Names nothing here, or is no valid search: 404 with the reason; bad shapes: 400.
        nobody = {"kind": "author", "target": "Nobody Atall"}
        assert "no paper here" in _error(
            api.call("POST", "/api/follows", api.write, json=nobody), 404
        )
        bad = {"kind": "search", "target": "transformers year:abc"}
        assert "not valid" in _error(api.call("POST", "/api/follows", api.write, json=bad), 404)
        _error(
            api.call("POST", "/api/follows", api.write, json={"kind": "planet", "target": "x"}), 400
        )
        _error(api.call("POST", "/api/follows", api.write, json={**body, "extra": 1}), 400)
        listed = api.call("GET", "/api/me/follows", api.read).json()
        assert {(f["kind"], f["label"]) for f in listed} == {
            ("author", "Ada Lovelace"),
            ("search", "graph neural"),
        }
        # Cookie writes need the CSRF header, as the other member routes.
        client, csrf = _cookie_client(api)
        with closing(client):
            cat = {"kind": "category", "target": "cs.CL"}
            _error(client.post("/api/follows", json=cat), 403)
            ok = client.post("/api/follows", json=cat, headers={"X-CSRF-Token": csrf})
            assert ok.status_code == 201 and ok.json()["target"] == "cs.cl", ok.text
        # Another member cannot delete Ada's follow; she can, once.
        bob = _member(api.db, "bob@example.org")
        bobs = tokens.create_token(api.db, bob, scope="write").secret
        _error(api.call("DELETE", f"/api/follows/{ada['id']}", bobs), 404)
        gone = api.call("DELETE", f"/api/follows/{ada['id']}", api.write)
        assert gone.json() == {"id": ada["id"], "deleted": True}, gone.text
        _error(api.call("DELETE", f"/api/follows/{ada['id']}", api.write), 404)
        _error(api.call("DELETE", f"/api/follows/{2**60}", api.write), 404)
        left = api.call("GET", "/api/me/follows", api.write).json()
        assert sorted(f["kind"] for f in left) == ["category", "search"]


def test_the_cli_creates_lists_and_revokes_tokens(db: Database, tmp_path: Path) -> None:
    import subprocess

    with api_site(db, tmp_path) as api:

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "paperfeed", "--database-url", db.url, "token", *args],
                capture_output=True,
                text=True,
                timeout=120,
            )

        made = cli(
            "create", "ada@example.org", "--scope", "write", "--name", "cron", "--expires-days", "7"
        )
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip()
        assert re.fullmatch(r"pf_[A-Za-z0-9_-]{43}", secret) and "keep this secret" in made.stderr
        r = api.call("POST", f"/api/papers/{PAPER}/upvote", secret)
        assert r.status_code == 200, r.text
        listing = cli("list", "ada@example.org")
        assert listing.returncode == 0, listing.stderr
        line = next(x for x in listing.stdout.splitlines() if x.endswith("cron"))
        assert secret not in listing.stdout and secret[:11] in line and "write" in line
        token_id = line.split()[0]
        assert cli("revoke", "ada@example.org", token_id).returncode == 0
        _error(api.call("POST", f"/api/papers/{PAPER}/upvote", secret), 401)
        bad = cli("create", "nobody@example.org")
        assert bad.returncode != 0 and "no account" in (bad.stderr + bad.stdout)
        bad = cli("revoke", "ada@example.org", token_id)
        assert bad.returncode != 0 and "no live token" in (bad.stderr + bad.stdout)
