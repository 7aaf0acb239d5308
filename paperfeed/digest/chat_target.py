"""Where a chat alert may go: the allowed Apprise schemes, the public-address rule, and masked display.

A member's Apprise URL names a host that paperfeed's server then connects to, so an unchecked URL
would let anyone probe or post to the operator's private network (server-side request forgery).
The rule is checked when a URL is added, again before each send, and a third time at connect
time: while a chat alert is being sent, `socket.getaddrinfo` answers only with public addresses,
so a name that resolves differently later (DNS rebinding) or a redirect to a private host fails.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import apprise

from paperfeed.errors import InvalidInput

MAX_URL_CHARS = 2000

# Network schemes a member may use, each sending over HTTP(S) to the URL's host or to the
# service's own public API. Schemes that write files, run commands or talk to the desktop
# (windows://, macosx://, dbus://, glib://, gnome://, kde://, syslog://...) and email (paperfeed's
# own mail queue sends mail) are not on the list.
HOST_SCHEMES = frozenset(
    {
        "json", "jsons", "xml", "xmls", "form", "forms",
        "ntfy", "ntfys", "gotify", "gotifys", "matrix", "matrixs",
        "mmost", "mmosts", "rocket", "rockets",
    }
)  # fmt: skip
SERVICE_HOSTS = {  # schemes whose target is the service's fixed public API host
    "slack": "hooks.slack.com",
    "discord": "discord.com",
    "tgram": "api.telegram.org",
    "pover": "api.pushover.net",
}
SCHEMES = HOST_SCHEMES | frozenset(SERVICE_HOSTS)
ASSET = apprise.AppriseAsset(service_timeout=0)  # no abandoned sends: see digest/chat.py
ADMIN_HINT = (
    "; chat alerts go only to public hosts unless the admin sets chat_allow_private_targets"
)
_REFUSED_ARGS = ("retry", "wait")  # paperfeed retries itself; a URL must not stall the sender


@dataclass(frozen=True, slots=True)
class Target:
    """A checked Apprise URL: its scheme and the host paperfeed will connect to."""

    url: str
    scheme: str
    host: str
    port: int | None
    own_host: bool  # the URL names the host (json://, ntfy://my.host/...), not a fixed service


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4 or IPv6, IPv4-mapped and embedded v4 unwrapped)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d to the socket layer
            return is_public(str(ip.ipv4_mapped))
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_public(str(embedded)):
            return False
    return bool(
        ip.is_global
        and not (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
        )
    )


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse(url: str) -> Target:
    """Check an Apprise URL's form and scheme (no network); raise InvalidInput saying what is accepted."""
    url = (url or "").strip()
    if not url:
        raise InvalidInput("enter an Apprise URL, e.g. ntfy://ntfy.sh/my-topic")
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"an Apprise URL has at most {MAX_URL_CHARS} characters")
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise InvalidInput(
            f"{scheme or url[:20]!r} is not a supported chat scheme; use one of "
            + ", ".join(f"{s}://" for s in sorted(SCHEMES))
        )
    args = parse_qs(urlsplit(url).query)
    refused = [a for a in _REFUSED_ARGS if a in {k.lower() for k in args}]
    if refused:
        raise InvalidInput(f"remove ?{refused[0]}= from the URL: paperfeed retries failed alerts")
    plugin: Any = apprise.Apprise.instantiate(url, asset=ASSET, suppress_exceptions=True)
    if plugin is None:
        raise InvalidInput(
            f"not a valid {scheme}:// URL: see https://appriseit.com/services/ for its form"
        )
    if scheme in SERVICE_HOSTS:
        return Target(url, scheme, SERVICE_HOSTS[scheme], None, False)
    if scheme.startswith("ntfy") and getattr(plugin, "mode", "") == "cloud":
        return Target(url, scheme, "ntfy.sh", None, False)
    host = str(getattr(plugin, "host", "") or "")
    if not host:
        raise InvalidInput(f"a {scheme}:// URL needs a host name")
    port = getattr(plugin, "port", None)
    return Target(url, scheme, host.strip("[]"), int(port) if port else None, True)


def refusal(target: Target) -> str | None:
    """Why connecting to the target's host is refused (a non-public address), or None; OSError when it does not resolve."""
    infos = _real_getaddrinfo(target.host, target.port or 443, proto=socket.IPPROTO_TCP)
    private = sorted({str(i[4][0]) for i in infos if not is_public(str(i[4][0]))})
    if private:
        return (
            f"refused: {target.host} resolves to a non-public address ({private[0]})" + ADMIN_HINT
        )
    return None


def check(url: str, *, allow_private: bool) -> Target:
    """Parse an Apprise URL and, unless private targets are allowed, refuse a host that is not public."""
    target = parse(url)
    if allow_private or not target.own_host:
        return target
    try:
        why = refusal(target)
    except OSError:
        raise InvalidInput(f"the host {target.host} does not resolve; check the URL") from None
    if why:
        raise InvalidInput(why)
    return target


def mask(url: str) -> str:
    """The URL as shown back to the member: scheme and host only, never tokens, paths or passwords."""
    try:
        target = parse(url)
    except InvalidInput:
        return url.partition("://")[0][:20] + "://…"
    if not target.own_host:
        return f"{target.scheme}://…"
    host = f"[{target.host}]" if ":" in target.host else target.host
    port = f":{target.port}" if target.port else ""
    return f"{target.scheme}://{host}{port}/…"


# --- the connect-time guard --------------------------------------------------------------------

_refused: ContextVar[list[str] | None] = ContextVar("paperfeed_chat_refused", default=None)
_real_getaddrinfo = socket.getaddrinfo
_install_lock = threading.Lock()


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    infos = _real_getaddrinfo(host, port, *args, **kwargs)
    refused = _refused.get()
    if refused is None:
        return infos
    kept = [i for i in infos if is_public(str(i[4][0]))]
    if not kept:
        why = f"refused: {host} resolves only to non-public addresses"
        refused.append(why)  # a list shared by the copies of this context Apprise's workers run in
        raise socket.gaierror(socket.EAI_NONAME, why)
    return kept


@contextmanager
def public_only(enabled: bool = True) -> Iterator[list[str]]:
    """While inside, name look-ups in this context return only public addresses; yields the refusals made."""
    with _install_lock:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo
    refused: list[str] = []
    token = _refused.set(refused if enabled else None)
    try:
        yield refused
    finally:
        _refused.reset(token)
