"""Form plumbing and guards every member page shares: CSRF-checked forms, sign-in, redirects."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from paperfeed.errors import PermissionDenied
from paperfeed.models import User
from paperfeed.service import limits, members
from paperfeed.web import auth
from paperfeed.web.context import db_of, render, settings_of
from paperfeed.web.ratelimit import limiter_for

# Fixed notices shown after a redirect: the query string carries a key, never text to display.
NOTICES = {
    "signed-in": "You are signed in.",
    "signed-out": "You are signed out.",
    "verified": "Your email address is confirmed; other sessions were signed out. Welcome!",
    "saved": "Your settings are saved.",
    "password": "Your password is changed; other sessions were signed out.",
    "email-sent": "We sent a confirmation link to the new address; it changes when you open it.",
    "email-changed": "Your email address is changed; other sessions were signed out.",
    "deleted": "Your account and its votes and comments were deleted.",
    "submitted": "Thanks! The paper is on today's feed.",
    "comment-saved": "Your comment is saved.",
    "comment-deleted": "The comment was deleted.",
    "curated": "Done.",
    "library-saved": "Saved to your library.",
    "library-removed": "Removed from the collection.",
    "library-hidden": "You will not be shown this paper again.",
    "library-shown": "The paper may be recommended again.",
    "library-deleted": "The collection was deleted.",
    # --- authors: claims ---
    "claim-confirmed": "Your claim is confirmed by your ORCID record: the badge shows now.",
    "claim-pending": "Your claim waits for a curator (see the note below it).",
    "claim-withdrawn": "Your claim was withdrawn.",
    "claim-decided": "The claim is decided.",
    "links-saved": "The paper's links are saved.",
    "notifications-read": "All caught up.",
    "followed": "Followed: new papers will show in your notifications.",
    "unfollowed": "Unfollowed.",
    "feed-rotated": "Your private feed has a new link; the old one no longer works.",
    # --- tokens: the settings page ---
    "token-revoked": "The token is revoked: requests that send it are refused from now on.",
}


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to return to: never another host (no //evil or scheme)."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and not any(c.isspace() or ord(c) < 32 for c in value)  # browsers drop tabs: "/\t/x"
    ):
        return value[:500]
    return default


def redirect(url: str, notice: str | None = None) -> RedirectResponse:
    """A 303 to a local URL, with a fixed notice key for the page to show."""
    if notice:
        url += ("&" if "?" in url else "?") + f"notice={notice}"
    return RedirectResponse(url, status_code=303)


def accepts_json(request: Request) -> bool:
    """True when the caller (a page's script) asks for a JSON answer."""
    return "application/json" in request.headers.get("accept", "")


def form_page(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> Response:
    """A form page (again, with an error) at the given status."""
    return render(request, template, context, status_code=status)


def require_user(request: Request, *, verified: bool = True) -> User:
    """The signed-in member (with a confirmed address unless told otherwise), or 403."""
    user = auth.current_user(request)
    if user is None:
        raise PermissionDenied("sign in first")
    return members.check_confirmed(user) if verified else user


def limit_write(request: Request, user: User) -> None:
    """Refuse (429) a write past write_rate_limit a minute, counted per token or per member."""
    principal = auth.current_principal(request)
    key = principal.limit_key if principal is not None else limits.member_key(user)
    limits.check_write(db_of(request), settings_of(request), key, limiter=limiter_for(request.app))


async def post_form(request: Request) -> dict[str, str]:
    """Read a bounded form and verify its CSRF token (every community POST goes through here)."""
    form = await auth.read_form(request)
    auth.check_csrf(request, form.get(auth.CSRF_FIELD) or request.headers.get(auth.CSRF_HEADER))
    return form
