"""Render digests and confirmation emails: multipart text + HTML with list headers (RFC 2369/8058)."""

from __future__ import annotations

import binascii
import functools
import textwrap
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from paperfeed.config import Settings
from paperfeed.digest.compose import site_domain
from paperfeed.digest.latex import latex_to_text, one_line, shorten
from paperfeed.models import Paper
from paperfeed.store.outbox import OutboxRow

ABSTRACT_CHARS = 300
# RFC 5322 allows 998; not folding keeps List-Unsubscribe's long URL on one line, where some
# receivers' parsers expect it (folding put it on a continuation line with a leading space).
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)
MAX_AUTHORS = 6

_env = Environment(
    loader=PackageLoader("paperfeed.digest", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(slots=True)
class Rendered:
    """A digest's subject and both bodies."""

    subject: str
    text: str
    html: str


def urls(settings: Settings, row: OutboxRow) -> dict[str, str]:
    """The view-in-browser, manage and one-click unsubscribe URLs of one digest."""
    base = settings.base_url.rstrip("/")
    return {
        "view_url": f"{base}/digests/{row.token}",
        "unsubscribe_url": f"{base}/unsubscribe/{row.unsubscribe_token}",
        "manage_url": f"{base}/subscription/{row.unsubscribe_token}",
    }


def authors_line(authors: list[str]) -> str:
    """Up to six names, then 'et al.'; one line."""
    names = [one_line(a, 80) for a in authors[:MAX_AUTHORS]]
    line = ", ".join(n for n in names if n)
    if len(authors) > MAX_AUTHORS:
        line += f" et al. ({len(authors)} authors)"
    return line


def item_view(settings: Settings, paper: Paper) -> dict[str, Any]:
    """What a template shows of one paper: plain-text title, authors, short abstract and links."""
    return _item(
        settings.base_url.rstrip("/"),
        paper.id,
        paper.title,
        paper.abstract,
        tuple(paper.authors),
        paper.upvotes,
        paper.pdf_url,
        tuple((paper.ai_keywords or paper.local_keywords)[:DIGEST_KEYWORDS]),
    )


DIGEST_KEYWORDS = 5  # keywords per paper in an email


@functools.lru_cache(maxsize=4096)
def _item(
    base: str,
    pid: str,
    title: str,
    abstract: str,
    authors: tuple[str, ...],
    upvotes: int,
    pdf: str,
    keywords: tuple[str, ...] = (),
) -> dict[str, Any]:
    # Cached: thousands of digests share the same few hundred papers, and LaTeX clean-up is
    # most of the rendering time. Only the start of the abstract can reach the excerpt.
    short = shorten(latex_to_text(abstract[: ABSTRACT_CHARS * 3]), ABSTRACT_CHARS)
    item: dict[str, Any] = {
        "id": pid,
        "title": one_line(latex_to_text(title), 300),
        "authors": authors_line(list(authors)),
        "abstract": short,
        "abstract_wrapped": textwrap.fill(short, 72, subsequent_indent="   "),
        "upvotes": upvotes,
        "url": f"{base}/papers/{pid}",
        "pdf_url": pdf,
        # HF's keywords when it gave them, else those extracted here (issue 16).
        "keywords": ", ".join(one_line(k, 80) for k in keywords),
    }
    # Each paper's HTML and text block is rendered once and pasted into every digest.
    item["html"] = Markup(_env.get_template("_item.html").render(item=item))
    item["text"] = _env.get_template("_item.txt").render(item=item).rstrip("\n") + "\n"
    return item


def render_digest(settings: Settings, row: OutboxRow, papers: dict[str, Paper]) -> Rendered:
    """Both bodies of a digest from its outbox content; papers gone since composing are left out."""
    sections = []
    for s in row.content.get("sections", []):
        items = [item_view(settings, papers[i["id"]]) for i in s["items"] if i["id"] in papers]
        if items:
            sections.append({"key": s["key"], "title": one_line(s["title"], 120), "items": items})
    frequency = "weekly" if row.period.startswith("w:") else "daily"
    ctx = {
        "subject": row.subject,
        "sections": sections,
        "site_name": settings.site_name,
        "frequency": frequency,
        **urls(settings, row),
    }
    text = _env.get_template("digest.txt").render(ctx)
    html = _env.get_template("digest.html").render(ctx)
    return Rendered(row.subject, text, html)


def paper_ids(row: OutboxRow) -> list[str]:
    """Every paper id a digest refers to."""
    return [i["id"] for s in row.content.get("sections", []) for i in s["items"]]


def new_message(
    settings: Settings, to: str, subject: str, *, message_id: str | None = None
) -> EmailMessage:
    """A message with every header paperfeed's mail carries: From, To, Subject, Date, Message-ID, MIME-Version.

    The one place they are made, for digests, confirmations and account mail alike. Date is
    RFC 5322 in UTC ('Tue, 01 Dec 2026 21:30:00 +0000'); Message-ID is unique under base_url's host
    unless the caller keeps a stable one (a digest's, reused on every retry).
    """
    msg = EmailMessage(policy=MAIL_POLICY)
    name, addr = parseaddr(settings.mail_from)
    msg["From"] = formataddr((one_line(name, 100), addr)) if name else addr
    msg["To"] = one_line(to, 320)
    msg["Subject"] = one_line(subject, 200)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id or make_msgid(domain=site_domain(settings))
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies, please
    return msg


def text_message(settings: Settings, to: str, subject: str, text: str) -> EmailMessage:
    """A plain-text message (account mail: sign-in links, verification, email change)."""
    msg = new_message(settings, to, subject)
    _set_part(msg, text, "plain")
    return msg


def list_id(settings: Settings) -> str:
    """The List-Id header value: '<site> digest <digest.host>'."""
    domain = settings.digest_list_id or f"digest.{site_domain(settings)}"
    return f"{one_line(settings.site_name, 60)} digest <{one_line(domain, 200)}>"


def build_message(settings: Settings, row: OutboxRow, rendered: Rendered) -> EmailMessage:
    """The email of one digest: stable Message-ID from the outbox row, list and one-click headers."""
    msg = new_message(settings, row.to_addr, rendered.subject, message_id=row.message_id)
    msg["List-Id"] = list_id(settings)
    links = urls(settings, row)
    unsubscribe = f"<{links['unsubscribe_url']}>"
    if settings.digest_unsubscribe_mailto:
        mailto = one_line(settings.digest_unsubscribe_mailto, 200)
        unsubscribe += f", <mailto:{mailto}?subject=unsubscribe%20{row.unsubscribe_token}>"
    msg["List-Unsubscribe"] = unsubscribe
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Precedence"] = "bulk"
    _alternatives(msg, rendered.text, rendered.html)
    return msg


def _set_part(part: EmailMessage, text: str, subtype: str) -> None:
    # binascii's C quoted-printable encoder: set_content() encodes every body both as QP and
    # base64 in pure Python to pick the shorter, which was half of a digest's rendering time.
    # QP also keeps every body 7-bit, so no server needs 8BITMIME.
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    body = text.replace("\r\n", "\n").encode("utf-8")
    part.set_payload(binascii.b2a_qp(body, istext=True).decode("ascii"))


def _qp_part(text: str, subtype: str) -> EmailMessage:
    part = EmailMessage(policy=MAIL_POLICY)
    _set_part(part, text, subtype)
    return part


def _alternatives(msg: EmailMessage, text: str, html: str) -> None:
    """Make `msg` multipart/alternative with a plain-text and an HTML part (both QP, UTF-8)."""
    msg.make_alternative()
    msg.attach(_qp_part(text, "plain"))
    msg.attach(_qp_part(html, "html"))


def digest_message(settings: Settings, row: OutboxRow, papers: dict[str, Paper]) -> EmailMessage:
    """Render and build a digest email in one step."""
    return build_message(settings, row, render_digest(settings, row, papers))


def confirmation_message(settings: Settings, to: str, confirm_url: str) -> EmailMessage:
    """The double opt-in email whose link leads to a page that confirms by POST."""
    msg = new_message(settings, to, f"Confirm your {settings.site_name} digest subscription")
    ctx = {"site_name": settings.site_name, "confirm_url": confirm_url}
    _alternatives(
        msg,
        _env.get_template("confirm.txt").render(ctx),
        _env.get_template("confirm.html").render(ctx),
    )
    return msg
