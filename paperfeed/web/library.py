"""Library pages: save, not interested, collections, import/export, and private feed links."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import Response

from paperfeed.errors import ImportFormatError, InvalidInput, NotFound
from paperfeed.models import Paper, User
from paperfeed.normalize import parse_row_id
from paperfeed.service import library as library_service
from paperfeed.store import library as store_library
from paperfeed.store import users as store_users
from paperfeed.web import auth, feeds, forms
from paperfeed.web.context import cards_to_fetch, db_of, path_for, render, settings_of, templates
from paperfeed.web.feeds import FeedLinks, _bib_response, bibtex

# --- template globals: the save / not-interested controls on every card -----------------------


@dataclass(slots=True)
class CardState:
    """What the library controls of one card need: the member's collections and this paper's."""

    collections: list[store_library.Collection]
    saved_in: set[int]
    hidden: bool


def _library_globals(request: Request) -> dict[str, Any]:
    def library_state(paper_id: str) -> CardState | None:
        user = auth.current_user(request)
        if user is None:
            return None
        cache: dict[str, Any] = request.state.__dict__.setdefault("pf_library", {})
        saved: dict[str, set[int]] = cache.setdefault("saved", {})
        if paper_id not in saved:
            wanted = cards_to_fetch(request, saved, paper_id)
            with db_of(request).read() as conn:
                if "collections" not in cache:
                    cache["collections"] = store_library.list_collections(conn, user.id)
                    cache["hidden"] = store_library.hidden_ids(conn, user.id)
                got = store_library.collections_of(conn, user.id, wanted)
            saved.update((i, set(got.get(i, ()))) for i in wanted)
        return CardState(cache["collections"], saved[paper_id], paper_id in cache["hidden"])

    return {"library_state": library_state}


if _library_globals not in templates.context_processors:
    templates.context_processors.append(_library_globals)


# --- helpers ----------------------------------------------------------------------------------


def signed_in(request: Request) -> User | None:
    """The signed-in member, or None for a visitor."""
    return auth.current_user(request)


def collection_or_404(request: Request, user: User, name_or_id: str) -> store_library.Collection:
    """The member's collection named by id or name, or NotFound."""
    return library_service.collection(db_of(request), user, name_or_id)


def paper_json(p: Paper) -> dict[str, Any]:
    """A paper as the library and for-you JSON lists show it."""
    return {
        "id": p.id,
        "title": p.title,
        "authors": p.authors,
        "summary": p.abstract,
        "publishedAt": p.published.isoformat() if p.published else None,
        "upvotes": p.upvotes,
        "url": p.abs_url,
    }


# --- save, unsave, not interested ---------------------------------------------------------------


async def save(request: Request) -> Response:
    """Save a paper into chosen collections (and/or a new one); form post, JSON on request."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_save, request, form)


def _form_list(form: dict[str, str], name: str) -> list[str]:
    # auth.read_form keeps one value per name: several collections come comma-separated or as
    # collection_<id> checkboxes.
    out = [v for v in form.get(name, "").split(",") if v.strip()]
    out += [k.split("_", 1)[1] for k, v in form.items() if k.startswith(f"{name}_") and v]
    return out


def _card_action(
    request: Request, form: dict[str, str], sign_in: str
) -> Response | tuple[User, str]:
    """The member and return path of a card button, or the sign-in answer for visitors."""
    back = forms.safe_next(form.get("next"), "/")
    if auth.current_user(request) is None:
        if forms.accepts_json(request):
            return JSONResponse({"error": sign_in, "login": "/login"}, 401)
        return forms.redirect(f"/login?next={quote(back)}")
    user = forms.require_user(request, verified=False)
    forms.limit_write(request, user)
    return user, back


def _save(request: Request, form: dict[str, str]) -> Response:
    action = _card_action(request, form, "sign in to save papers")
    if isinstance(action, Response):
        return action
    user, back = action
    ids = [i for v in _form_list(form, "collection") if (i := parse_row_id(v)) is not None]
    got = library_service.save(
        db_of(request), user, form.get("paper_id", ""), ids, form.get("new_collection", "")
    )
    if forms.accepts_json(request):
        return JSONResponse(
            {"id": got.paper_id, "added": got.added, "collections": got.collections}
        )
    return forms.redirect(back, "library-saved")


async def unsave(request: Request) -> Response:
    """Take a paper out of one collection (collection_id) or out of the whole library."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_unsave, request, form)


def _unsave(request: Request, form: dict[str, str]) -> Response:
    user = forms.require_user(request, verified=False)
    forms.limit_write(request, user)
    cid = parse_row_id(form.get("collection_id", ""))
    pid, n = library_service.unsave(db_of(request), user, form.get("paper_id", ""), cid)
    if forms.accepts_json(request):
        return JSONResponse({"id": pid, "removed": n})
    return forms.redirect(forms.safe_next(form.get("next"), "/library"), "library-removed")


async def not_interested(request: Request) -> Response:
    """Hide a paper from this member's recommendations (action=undo shows it again)."""
    form = await forms.post_form(request)
    return await run_in_threadpool(_not_interested, request, form)


def _not_interested(request: Request, form: dict[str, str]) -> Response:
    action = _card_action(request, form, "sign in first")
    if isinstance(action, Response):
        return action
    user, back = action
    undo = form.get("action") == "undo"
    pid = library_service.hide(db_of(request), user, form.get("paper_id", ""), undo=undo)
    if forms.accepts_json(request):
        return JSONResponse({"id": pid, "hidden": not undo})
    return forms.redirect(back, "library-shown" if undo else "library-hidden")


# --- library pages ------------------------------------------------------------------------------


def _library_data(request: Request, user: User) -> dict[str, Any]:
    got = library_service.contents(db_of(request), user)
    return {"collections": got.collections, "hidden": got.hidden}


def library_page(request: Request) -> Response:
    """The member's collections, the import form and their "not interested" papers."""
    user = signed_in(request)
    if user is None:
        return auth.login_redirect(request)
    data = _library_data(request, user)
    return render(request, "library.html", {**data, "active": "library", "report": None})


def library_api(request: Request) -> Response:
    """The member's collections with sizes and hidden papers, as JSON."""
    user = signed_in(request)
    if user is None:
        return JSONResponse({"error": "sign in first", "login": "/login"}, 401)
    data = _library_data(request, user)
    return JSONResponse(
        {
            "collections": [
                {"id": c.id, "name": c.name, "size": c.size, "created_at": c.created_at.isoformat()}
                for c in data["collections"]
            ],
            "hidden": [p.id for p in data["hidden"]],
        }
    )


def _collection_items(request: Request, user: User, col_id: int) -> list[Paper]:
    return library_service.collection_papers(db_of(request), user, col_id)


def collection_page(request: Request, collection: str) -> Response:
    """One collection's papers, newest saved first, with export and "more like this" links."""
    user = signed_in(request)
    if user is None:
        return auth.login_redirect(request)
    col = collection_or_404(request, user, collection)
    papers = _collection_items(request, user, col.id)
    return render(
        request,
        "library_collection.html",
        {
            "collection": col,
            "papers": papers,
            "active": "library",
            "feeds": collection_links(request, user, col),
        },
        cards=[p.id for p in papers],
    )


def collection_api(request: Request, collection: str) -> Response:
    """One collection's papers as JSON."""
    user = signed_in(request)
    if user is None:
        return JSONResponse({"error": "sign in first", "login": "/login"}, 401)
    col = collection_or_404(request, user, collection)
    papers = _collection_items(request, user, col.id)
    return JSONResponse({"id": col.id, "name": col.name, "papers": [paper_json(p) for p in papers]})


def collection_bibtex(request: Request, collection: str) -> Response:
    """A collection as a BibTeX file."""
    user = signed_in(request)
    if user is None:
        return auth.login_redirect(request)
    col = collection_or_404(request, user, collection)
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in col.name)[:60] or "collection"
    return _bib_response(bibtex(_collection_items(request, user, col.id)), name)


async def collection_delete(request: Request, collection: str) -> Response:
    """Delete a collection (its papers stay in any other collection)."""
    await forms.post_form(request)
    user = forms.require_user(request, verified=False)
    library_service.delete_collection(db_of(request), user, collection)
    return forms.redirect(path_for(request, "library"), "library-deleted")


# --- import ---------------------------------------------------------------------------------------


async def _read_upload(request: Request) -> tuple[dict[str, str], bytes, str]:
    """Read a multipart upload of at most library_import_max_bytes: (fields, file bytes, name)."""
    limit = settings_of(request).library_import_max_bytes
    declared = request.headers.get("content-length")
    too_big = (
        f"the file is larger than {limit // 1_000_000} MB: export a smaller part of the "
        "library (for example one collection) and import the parts one by one"
    )
    if declared and declared.isdigit() and int(declared) > limit + 65_536:
        raise auth.BodyTooLarge(too_big)
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise InvalidInput("send the file as multipart/form-data (the import form does)")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit + 65_536:
            raise auth.BodyTooLarge(too_big)

    async def stream() -> AsyncGenerator[bytes, None]:
        yield bytes(body)

    try:
        form = await MultiPartParser(
            request.headers, stream(), max_files=1, max_fields=20, max_part_size=65_536
        ).parse()
    except MultiPartException as exc:
        raise InvalidInput(f"the upload could not be read: {exc.message}") from None
    fields: dict[str, str] = {}
    data, name = b"", ""
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            data, name = await value.read(), value.filename or ""
            await value.close()
        else:
            fields.setdefault(key, value)
    return fields, data, name


async def import_library(request: Request) -> Response:
    """Import a BibTeX, RIS or CSL-JSON file into a collection, with a per-entry report."""
    if auth.current_user(request) is None:
        if forms.accepts_json(request):
            return JSONResponse({"error": "sign in first", "login": "/login"}, 401)
        return forms.redirect(f"/login?next={quote('/library')}")
    fields, data, filename = await _read_upload(request)
    auth.check_csrf(request, fields.get(auth.CSRF_FIELD) or request.headers.get(auth.CSRF_HEADER))
    user = forms.require_user(request, verified=False)
    forms.limit_write(request, user)
    return await run_in_threadpool(_import, request, user, fields, data, filename)


def _import(
    request: Request, user: User, fields: dict[str, str], data: bytes, filename: str
) -> Response:
    collection = fields.get("collection", "").strip() or "Imported"
    fmt = fields.get("format", "") or None
    error = None
    report = None
    if not data.strip():
        error = "choose a file to import (it was empty)"
    else:
        try:
            report = library_service.import_file(
                db_of(request), user, data, collection=collection, filename=filename, fmt=fmt
            )
        except (ImportFormatError, InvalidInput) as exc:
            error = f"{exc} Nothing was imported."
    if forms.accepts_json(request):
        if error:
            return JSONResponse({"error": error, "committed": False}, status_code=400)
        assert report is not None
        return JSONResponse({**report.as_json(), "summary": report.summary()})
    data_ctx = _library_data(request, user)
    return render(
        request,
        "library.html",
        {**data_ctx, "active": "library", "report": report, "import_error": error},
        status_code=400 if error else 200,
    )


# --- feeds: a collection and the for-you list as Atom (readers have no cookie) and BibTeX -----------


def feed_token(request: Request, user: User, scope: str) -> str:
    """A private feed's key: an HMAC of the member, the list and their password hash."""
    # The password hash in the message means a password change revokes every feed link.
    msg = f"feed|{user.id}|{scope}|{user.password_hash or ''}".encode()
    return hmac.new(auth._secret(request), msg, hashlib.sha256).hexdigest()[:32]


def private_feed_url(request: Request, user: User, path: str, scope: str, **extra: str) -> str:
    """A private feed's URL: the path with the member and their token for this list."""
    token = feed_token(request, user, scope)
    return path + "?" + urlencode({**extra, "member": str(user.id), "token": token})


def feed_member(request: Request, scope: str) -> User:
    """Whose private feed this is: the member named by a valid token, else the signed-in one."""
    member, token = request.query_params.get("member", ""), request.query_params.get("token", "")
    if not token:
        user = signed_in(request)
        if user is None:
            raise NotFound("this feed is private: copy its link (with its token) from the page")
        return user
    found = None
    if member.isdigit() and len(member) < 12:
        with db_of(request).read() as conn:
            found = store_users.get_user(conn, int(member))
    if found is None or not hmac.compare_digest(feed_token(request, found, scope), token[:64]):
        raise NotFound("this feed link is not valid (it changes with the password): copy it again")
    return found


def collection_links(request: Request, user: User, col: store_library.Collection) -> FeedLinks:
    """The feeds of a collection page: a private Atom link and the BibTeX export."""
    atom = path_for(request, "library_atom", collection=col.id)
    return FeedLinks(
        f"Collection {col.name}",
        private_feed_url(request, user, atom, f"collection:{col.id}"),
        path_for(request, "library_bibtex", collection=col.id),
    )


def collection_atom(request: Request, collection: str) -> Response:
    """A collection as an Atom feed, newest saved first (a token in the URL stands for sign-in)."""
    user = feed_member(request, f"collection:{collection}")
    col = collection_or_404(request, user, collection)
    with db_of(request).read() as conn:
        saved = {i.paper_id: i.created_at for i in store_library.items(conn, user.id, col.id)}
    papers = _collection_items(request, user, col.id)
    return feeds.atom_response(
        request,
        title=f"{settings_of(request).site_name} – {col.name}",
        html_path=path_for(request, "library_collection", collection=col.id),
        papers=[(p, saved.get(p.id), None) for p in papers],
        private=True,
    )
