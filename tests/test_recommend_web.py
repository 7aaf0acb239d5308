"""Library and for-you pages through the real app: sign-in, CSRF, save, hide, import, export."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _recommend_helpers import csrf, member, seed, settings_for, signed_in, topic_id
from fastapi.testclient import TestClient

from paperfeed.store import Database
from paperfeed.store import library as lib
from paperfeed.web import create_app


@pytest.fixture
def site(sqlite_db: Database, tmp_path: Path) -> tuple[Database, object]:
    seed(sqlite_db)
    member(sqlite_db)
    return sqlite_db, settings_for(sqlite_db, tmp_path)


def _client(site: tuple[Database, object]) -> TestClient:
    db, settings = site
    return signed_in(settings, db, "ada@example.org")  # type: ignore[arg-type]


def test_pages_need_a_signed_in_member(site: tuple[Database, object]) -> None:
    db, settings = site
    anon = TestClient(create_app(settings, db))  # type: ignore[arg-type]
    for path in ("/for-you", "/library", "/library/1", "/library/1/similar"):
        r = anon.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    for path in ("/api/for-you", "/api/library", "/api/library/1/similar"):
        r = anon.get(path)
        assert r.status_code == 401 and r.json()["login"] == "/login"
    token = csrf(anon)
    r = anon.post(
        "/library/save",
        data={"csrf_token": token, "paper_id": topic_id("rl", 0), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_posts_need_the_csrf_token(site: tuple[Database, object]) -> None:
    db, _ = site
    c = _client(site)
    for path in ("/library/save", "/library/not-interested"):
        r = c.post(path, data={"paper_id": topic_id("rl", 0)})
        assert r.status_code == 403
        r = c.post(path, data={"paper_id": topic_id("rl", 0), "csrf_token": "forged"})
        assert r.status_code == 403
    r = c.post(
        "/library/import",
        files={"file": ("a.bib", b"@misc{a, eprint={2601.10000}}", "text/plain")},
        data={"collection": "X"},
    )
    assert r.status_code == 403
    with db.read() as conn:
        assert lib.list_collections(conn, 1) == [] and lib.hidden_ids(conn, 1) == set()


def test_save_from_a_card_then_for_you_explains(site: tuple[Database, object]) -> None:
    db, _ = site
    c = _client(site)
    page = c.get(f"/papers/{topic_id('rl', 0)}")
    assert page.status_code == 200
    assert 'action="/library/save"' in page.text and "Not interested" in page.text
    token = csrf(c, "/library")
    r = c.post(
        "/library/save",
        data={
            "csrf_token": token,
            "paper_id": topic_id("rl", 0),
            "new_collection": "RL",
            "next": f"/papers/{topic_id('rl', 0)}",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "notice=library-saved" in r.headers["location"]
    with db.read() as conn:
        col = lib.find_collection(conn, 1, "RL")
    assert col is not None
    for i in (1, 2):  # JSON saves into an existing collection by its checkbox
        r = c.post(
            "/library/save",
            data={"csrf_token": token, "paper_id": topic_id("rl", i), f"collection_{col.id}": "1"},
            headers={"accept": "application/json"},
        )
        assert r.status_code == 200 and r.json()["collections"] == [col.id]
    page = c.get("/for-you")
    assert page.status_code == 200
    assert "For you" in page.text and "in your collection ‘RL’" in page.text
    assert re.search(
        r"Reinforcement learning policy gradient agent reward \w+ ([3-9]|1[01])", page.text
    )
    api = c.get("/api/for-you").json()
    assert api["method"] == "model" and api["positives"] == 3
    first = api["items"][0]
    assert first["paper"]["id"].startswith("2601.1") and first["collection"] == "RL"
    assert set(first["because"]) <= {topic_id("rl", i) for i in range(3)}
    saved = {topic_id("rl", i) for i in range(3)}
    assert not saved & {it["paper"]["id"] for it in api["items"]}
    by_col = c.get(f"/api/for-you?collection={col.id}").json()
    assert by_col["collection"] == "RL" and by_col["items"]
    sim = c.get(f"/library/{col.id}/similar")
    assert sim.status_code == 200 and "More like “RL”" in sim.text
    assert c.get(f"/api/library/{col.id}/similar").json()["items"]
    assert c.get("/api/for-you?collection=nope").status_code == 404


def test_not_interested_drops_a_paper_and_can_be_undone(site: tuple[Database, object]) -> None:
    db, _ = site
    c = _client(site)
    token = csrf(c, "/library")
    for i in range(3):
        c.post("/library/save", data={"csrf_token": token, "paper_id": topic_id("rl", i)})
    top = c.get("/api/for-you").json()["items"][0]["paper"]["id"]
    r = c.post(
        "/library/not-interested",
        data={"csrf_token": token, "paper_id": top, "next": "/for-you"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/for-you?notice=library-hidden"
    ids = [it["paper"]["id"] for it in c.get("/api/for-you").json()["items"]]
    assert top not in ids
    lib_page = c.get("/library")
    assert "Not interested" in lib_page.text and "Undo" in lib_page.text
    c.post("/library/not-interested", data={"csrf_token": token, "paper_id": top, "action": "undo"})
    with db.read() as conn:
        assert lib.hidden_ids(conn, 1) == set()
    assert top in [it["paper"]["id"] for it in c.get("/api/for-you").json()["items"]]


def test_import_report_export_and_delete(site: tuple[Database, object]) -> None:
    db, _ = site
    c = _client(site)
    token = csrf(c, "/library")
    bib = (
        b"@article{a, title={x}, eprint={2601.20000}, archivePrefix={arXiv}}\n"
        b"@article{b, title={y}, doi={10.1000/astro.1}}\n"
        b"@article{c, title={Unknown here}}\n"
        b"@article{d, title = {broken\n"
    )
    r = c.post(
        "/library/import",
        data={"csrf_token": token, "collection": "Stars"},
        files={"file": ("mine.bib", bib, "application/x-bibtex")},
    )
    assert r.status_code == 200
    assert "4 entries: 2 imported into &#39;Stars&#39;" in r.text or "2 imported into" in r.text
    assert "unknown" in r.text and "broken" in r.text
    api = c.post(
        "/library/import",
        data={"csrf_token": token, "collection": "Stars"},
        files={"file": ("mine.bib", bib, "application/x-bibtex")},
        headers={"accept": "application/json"},
    ).json()
    assert api["committed"] and api["counts"] == {
        "imported": 0,
        "duplicate": 2,
        "unknown": 1,
        "broken": 1,
    }
    cols = c.get("/api/library").json()["collections"]
    assert [(x["name"], x["size"]) for x in cols] == [("Stars", 2)]
    cid = cols[0]["id"]
    bibfile = c.get(f"/library/{cid}/export.bib")
    assert bibfile.status_code == 200 and bibfile.headers["content-type"].startswith(
        "application/x-bibtex"
    )
    assert "eprint = {2601.20000}" in bibfile.text and "eprint = {2601.20001}" in bibfile.text
    page = c.get(f"/library/{cid}")
    assert page.status_code == 200 and "Stars" in page.text
    assert {p["id"] for p in c.get(f"/api/library/{cid}").json()["papers"]} == {
        topic_id("astro", 0),
        topic_id("astro", 1),
    }
    bad = c.post(
        "/library/import",
        data={"csrf_token": token, "collection": "Bad"},
        files={"file": ("x.json", b"[{", "application/json")},
        headers={"accept": "application/json"},
    )
    assert bad.status_code == 400 and "Nothing was imported" in bad.json()["error"]
    r = c.post(f"/library/{cid}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/api/library").json()["collections"] == []


def test_an_upload_over_the_cap_is_refused_whole(sqlite_db: Database, tmp_path: Path) -> None:
    seed(sqlite_db, 2)
    member(sqlite_db)
    settings = settings_for(sqlite_db, tmp_path, library_import_max_bytes=100_000)
    c = signed_in(settings, sqlite_db, "ada@example.org")
    token = csrf(c, "/library")
    big = b"@misc{a, eprint={2601.10000}}\n" + b"%" * 300_000
    r = c.post(
        "/library/import",
        data={"csrf_token": token, "collection": "Big"},
        files={"file": ("big.bib", big, "text/plain")},
    )
    assert r.status_code == 413 and "MB" in r.text
    with sqlite_db.read() as conn:
        assert lib.list_collections(conn, 1) == []


def test_the_nav_links_for_members_only(site: tuple[Database, object]) -> None:
    db, settings = site
    anon = TestClient(create_app(settings, db))  # type: ignore[arg-type]
    assert 'href="/for-you"' not in anon.get("/").text
    assert 'href="/for-you"' in _client(site).get("/library").text


def test_a_ten_megabyte_upload_is_imported_with_a_report(site: tuple[Database, object]) -> None:
    db, _ = site
    c = _client(site)
    token = csrf(c, "/library")
    pad = "y" * 400
    parts, size, n = [], 0, 0
    while size < 10_000_000:
        pid = topic_id("vision", n) if n < 5 else f"2302.{n:05d}"
        parts.append(f"@article{{e{n}, title={{T {n}}}, eprint={{{pid}}}, abstract={{{pad}}}}}\n")
        size += len(parts[-1])
        n += 1
    r = c.post(
        "/library/import",
        data={"csrf_token": token, "collection": "Big"},
        files={"file": ("big.bib", "".join(parts).encode(), "application/x-bibtex")},
        headers={"accept": "application/json"},
    )
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["committed"] and body["total"] == n
    assert body["counts"] == {"imported": 5, "duplicate": 0, "unknown": n - 5, "broken": 0}
    with db.read() as conn:
        col = lib.find_collection(conn, 1, "Big")
        assert col is not None and len(lib.items(conn, 1, col.id)) == 5


def test_search_results_carry_the_library_controls(site: tuple[Database, object]) -> None:
    from paperfeed.search.sync import run_index

    db, settings = site
    run_index(db, settings)  # type: ignore[arg-type]
    c = _client(site)
    page = c.get("/search?q=galaxy&mode=lexical")
    assert page.status_code == 200 and "Galaxy dark matter" in page.text
    assert page.text.count('action="/library/not-interested"') >= 3


def test_card_states_are_fetched_once_per_page_not_per_card(
    site: tuple[Database, object],
) -> None:
    import sqlalchemy as sa

    from paperfeed.search.sync import run_index
    from paperfeed.store import users as user_store
    from paperfeed.store import votes as vote_store

    db, settings = site
    run_index(db, settings)  # type: ignore[arg-type]
    voted, saved = topic_id("astro", 3), topic_id("astro", 5)
    with db.write() as conn:
        ada = user_store.get_by_email(conn, "ada@example.org")
        assert ada is not None
        vote_store.add_vote(conn, ada.id, voted)
        col = lib.get_or_create_collection(conn, ada.id, "Galaxies")
        lib.save(conn, ada.id, saved, [col.id])
    c = _client(site)
    statements: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def page(q: str) -> tuple[str, int]:
        statements.clear()
        r = c.get("/search", params={"q": q, "mode": "lexical"})
        assert r.status_code == 200
        return r.text, len(statements)

    many, n_many = page("galaxy")
    few, n_few = page('author:"Author astro 7"')
    vote_forms = re.findall(
        r'name="paper_id" value="([^"]+)">\s*<input type="hidden" name="action" value="(\w+)"', many
    )
    assert len(vote_forms) >= 12 and few.count('class="vote-button"') == 1
    assert n_many == n_few  # votes and library state: one query each for all the cards
    # Each card still shows its own state.
    pressed = {pid: action == "remove" for pid, action in vote_forms}
    assert pressed[voted] and not pressed[saved] and sum(pressed.values()) == 1
    saved_menu = re.findall(r"<summary>Saved \(1\)<span[^>]*> “([^”]+)”", many)
    assert saved_menu == ["Galaxy dark matter halo stellar zeta 5"]


def test_a_vote_from_search_results_returns_to_the_same_results(
    site: tuple[Database, object],
) -> None:
    from paperfeed.search.sync import run_index

    db, settings = site
    run_index(db, settings)  # type: ignore[arg-type]
    c = _client(site)
    page = c.get("/search?q=galaxy&mode=lexical&p=1").text
    form = re.search(
        r'<form class="votes vote-form".*?name="csrf_token" value="([^"]+)".*?'
        r'name="paper_id" value="([^"]+)".*?name="next" value="([^"]+)"',
        page,
        flags=re.S,
    )
    assert form is not None
    token, pid, nxt = form.groups()
    r = c.post(
        "/vote",
        data={
            "csrf_token": token,
            "paper_id": pid,
            "action": "up",
            "next": nxt.replace("&amp;", "&"),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(
        "/search?q=galaxy&mode=lexical"
    )
