"""One Origin check for every state-changing route: a new route cannot forget it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from _community_helpers import Site, community_site, csrf, sign_up
from fastapi.routing import APIRoute
from starlette.convertors import IntegerConvertor

from paperfeed.store import Database
from paperfeed.store.schema import subscriptions
from paperfeed.web import create_app
from paperfeed.web.auth import ORIGIN_EXEMPT, UNSAFE_METHODS

EVIL = "https://evil.example"
REFUSED = "this form was sent from another site"


@pytest.fixture
def site(sqlite_db: Database, tmp_path: Path) -> Iterator[Site]:
    with community_site(sqlite_db, tmp_path) as s:
        yield s


def _unsafe_routes(site: Site) -> list[tuple[APIRoute, str, str]]:
    """Every (route, method, concrete path) of the app that can change state."""
    app = create_app(site.settings, site.db)
    found = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        params = {
            name: "1" if isinstance(conv, IntegerConvertor) else "x"
            for name, conv in route.param_convertors.items()
        }
        path = str(route.url_path_for(route.name, **params))
        found += [(route, m, path) for m in sorted(route.methods & UNSAFE_METHODS)]
    return found


def test_every_state_changing_route_refuses_a_foreign_origin(site: Site) -> None:
    client = site.client()
    sign_up(site, client, "ada@example.org", "Ada")  # signed in, with a valid CSRF token
    token = csrf(client, "/")
    routes = _unsafe_routes(site)
    assert len(routes) >= 20  # the table has that many POST routes today
    names = {r.name for r, _, _ in routes}
    assert ORIGIN_EXEMPT <= names, "an exempt name that is no route is a typo"
    for route, method, path in routes:
        r = client.request(
            method,
            path,
            data={"csrf_token": token},
            headers={"Origin": EVIL},
            follow_redirects=False,
        )
        if route.name in ORIGIN_EXEMPT:
            assert REFUSED not in r.text, (method, path)
        else:
            assert r.status_code == 403 and REFUSED in r.text, (method, path, r.status_code)


def test_unchecked_routes_of_the_review_now_refuse(site: Site) -> None:
    client = site.client()
    sign_up(site, client, "ada@example.org", "Ada")
    token = csrf(client, "/")
    for path, data in [
        ("/subscribe", {"email": "victim@example.org"}),
        ("/settings/digests", {"frequency": "daily", "hour": "7", "sections": "featured"}),
        ("/library/import", {"text": "@article{x, eprint={2611.00001}}"}),
    ]:
        r = client.post(path, data={"csrf_token": token, **data}, headers={"Origin": EVIL})
        assert r.status_code == 403 and REFUSED in r.text, path
    with site.db.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(subscriptions)).scalar_one()
    assert n == 0
    # The same forms from this site, and from clients that send no Origin, still work.
    r = client.post(
        "/subscribe",
        data={"csrf_token": token, "email": "ada@example.org"},
        headers={"Origin": "http://testserver"},
    )
    assert r.status_code == 200
    r = site.client().post("/subscribe", data={"email": "b@example.org"})
    assert r.status_code == 403  # no Origin: the CSRF token is still required


def test_one_click_unsubscribe_works_from_a_mail_client(site: Site) -> None:
    from _digest_helpers import add_subscriber

    sub = add_subscriber(site.db, "reader@example.org")
    r = site.client().post(
        f"/unsubscribe/{sub.unsubscribe_token}",
        data={"List-Unsubscribe": "One-Click"},
        headers={"Origin": "https://mail.example.com"},
    )
    assert r.status_code == 200
    with site.db.read() as conn:
        status = conn.execute(
            sa.select(subscriptions.c.status).where(subscriptions.c.id == sub.id)
        ).scalar_one()
    assert status == "unsubscribed"
