"""Mailers: send one `EmailMessage` over SMTP or print it to stdout during development.

Interface shared by digests and the account-mail queue: `make_mailer(settings).send(msg)` raises
a `paperfeed.errors.MailError` subclass on failure, and `verdict(exc)` says what a queue does
about it: retry the message later, bounce the recipient, fail the message, or stop the run.
"""

from __future__ import annotations

import copy
import enum
import io
import re
import smtplib
import ssl
import sys
from dataclasses import dataclass
from datetime import timedelta
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import getaddresses
from types import TracebackType
from typing import Protocol, TextIO

from paperfeed.config import Settings
from paperfeed.errors import (
    ConfigError,
    MailConnectionError,
    MailError,
    MailMessageError,
    MailPermanentError,
    MailServerError,
    MailTemporaryError,
)

SECURITY_MODES = ("none", "starttls", "ssl")
MAX_RETRY_DELAY = timedelta(hours=6)
_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class Verdict(enum.Enum):
    """What a sending queue does with a message after a failed send."""

    RETRY = "retry"  # 4xx for this message: try it again later, go on with the next
    BOUNCE = "bounce"  # the recipient's address is refused for good: go on
    FAIL = "fail"  # this message can never be sent (a header with a line break): go on
    STOP = "stop"  # the server refused the transaction: try this message later, stop the run
    PAUSE = "pause"  # nothing was sent (server unreachable, login refused): stop the run


def verdict(exc: BaseException) -> Verdict:
    """The queue's reaction to an exception raised by `Mailer.send`."""
    if isinstance(exc, MailTemporaryError):
        return Verdict.RETRY
    if isinstance(exc, MailPermanentError):
        return Verdict.BOUNCE
    if isinstance(exc, MailMessageError):
        return Verdict.FAIL
    if isinstance(exc, MailError | ConfigError) and not isinstance(exc, MailServerError):
        return Verdict.PAUSE
    # MailServerError, and any bug: the message moves back in line with a backoff, so no row
    # can hold up the queue forever (after the last attempt it fails, unblamed).
    return Verdict.STOP


@dataclass(frozen=True, slots=True)
class Decision:
    """What a queue records after one failed send."""

    action: str  # 'retry' (later, with backoff) | 'release' (untouched) | 'bounced' | 'failed'
    stop: bool  # end this run: the server refused the transaction or could not be reached
    error: str
    retry_in: timedelta = timedelta(0)


def decide(exc: BaseException, *, attempts: int, max_attempts: int, retry_base: float) -> Decision:
    """The record for a message that failed on its `attempts`-th try, by `verdict(exc)`."""
    what = verdict(exc)
    error = str(exc) or type(exc).__name__
    stop = what in (Verdict.STOP, Verdict.PAUSE)
    if what is Verdict.BOUNCE:
        return Decision("bounced", False, error)
    if what is Verdict.FAIL:
        return Decision("failed", False, error)
    if what is Verdict.PAUSE:  # nothing reached the server: the message keeps its place
        return Decision("release", True, error)
    if attempts >= max_attempts:
        return Decision("failed", stop, error)
    # RETRY, or STOP (the server refused, no recipient to blame): later, behind the others.
    return Decision("retry", stop, error, retry_delay(retry_base, attempts))


def retry_delay(base: float, attempts: int) -> timedelta:
    """Delay before the next attempt after `attempts` failures: `base` seconds doubling, 6 h at most."""
    return min(timedelta(seconds=base * 2 ** max(0, attempts - 1)), MAX_RETRY_DELAY)


class Mailer(Protocol):
    """Something that delivers one email message or raises a MailError."""

    def send(self, msg: EmailMessage) -> None:
        """Deliver `msg` to the addresses in its To/Cc/Bcc headers."""
        ...

    def close(self) -> None:
        """Release any open connection."""
        ...

    def __enter__(self) -> Mailer:
        """Keep one connection open for a batch of sends."""
        ...

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the batch's connection."""
        ...


def check_headers(msg: EmailMessage) -> None:
    """Refuse a message whose header values carry CR or LF (header injection)."""
    for name, value in [*msg.raw_items(), *msg.items()]:
        if "\r" in name or "\n" in name or "\r" in str(value) or "\n" in str(value):
            raise MailMessageError(f"refusing to send: header {name!r} contains a line break")


def recipients_of(msg: EmailMessage) -> list[str]:
    """The envelope recipients of a message: every address in To, Cc and Bcc."""
    fields = [str(v) for h in ("To", "Cc", "Bcc") for v in msg.get_all(h, [])]
    return [addr for _name, addr in getaddresses(fields) if addr]


class ConsoleMailer:
    """Prints each message to stdout (or a given stream) instead of sending it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, msg: EmailMessage) -> None:
        """Print the headers and the decoded plain-text part, where a developer can read the links."""
        check_headers(msg)
        out = self.stream or sys.stdout
        out.write("-" * 30 + " email (mail_backend=console) " + "-" * 30 + "\n")
        for name, value in msg.items():
            if not name.lower().startswith(("content-", "mime-")):
                out.write(f"{name}: {value}\n")
        text = msg.get_body(preferencelist=("plain",))
        # The raw MIME is quoted-printable, which breaks long links across lines.
        out.write("\n" + (text.get_content() if text is not None else msg.as_string()) + "\n")
        out.flush()

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> ConsoleMailer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SmtpMailer:
    """Sends over SMTP with optional STARTTLS/SSL and login.

    Used plainly, each `send` opens and closes a connection; inside `with mailer:` one
    connection is kept for the whole batch (reopened if the server drops it), which is what
    makes thousands of digests a minute possible.
    """

    def __init__(
        self,
        host: str,
        port: int = 0,
        *,
        security: str = "none",
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ConfigError(
                f"smtp_security={security!r} is not valid: use one of {', '.join(SECURITY_MODES)}"
            )
        self.host = host
        self.port = port or _DEFAULT_PORTS[security]
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None
        self._batch = 0

    def __enter__(self) -> SmtpMailer:
        self._batch += 1
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._batch -= 1
        if self._batch <= 0:
            self._batch = 0
            self.close()

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        try:
            conn: smtplib.SMTP
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=self._context(),
                    local_hostname=self.local_hostname,
                )
            else:
                conn = smtplib.SMTP(
                    self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
                )
            try:
                conn.ehlo_or_helo_if_needed()  # SMTPHeloError if both fail
                if self.security == "starttls":
                    conn.starttls(context=self._context())
                    conn.ehlo_or_helo_if_needed()  # SMTPHeloError if both fail
                if self.username:
                    conn.login(self.username, self.password)
            except BaseException:
                _quietly_close(conn)
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"SMTP login as {self.username!r} refused ({exc.smtp_code}); "
                "check smtp_username and smtp_password"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise MailError(
                f"SMTP server {self.host}:{self.port} does not support {self.security} or AUTH; "
                "check smtp_security"
            ) from exc
        except smtplib.SMTPResponseException as exc:  # 554 greeting, 5xx to EHLO: no one's address
            raise MailConnectionError(
                f"SMTP server {self.host}:{self.port} refused the connection: {exc.smtp_code} "
                f"{_text(exc.smtp_error)}"
            ) from exc
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise MailConnectionError(
                f"cannot connect to SMTP server {self.host}:{self.port} ({exc}); "
                "check smtp_host, smtp_port and smtp_security"
            ) from exc
        return conn

    def send(self, msg: EmailMessage) -> None:
        """Deliver one message, raising the MailError subclass its refusal calls for (see `refusal`)."""
        check_headers(msg)
        rcpts = recipients_of(msg)
        if not rcpts:
            raise MailMessageError("refusing to send a message without recipients")
        senders = getaddresses([str(msg.get("Sender") or msg.get("From") or "")])
        sender = senders[0][1] if senders else ""
        try:
            self._transact(msg, sender, rcpts, retry_idle=True)
        finally:
            if self._batch == 0:
                self.close()

    def _transact(
        self, msg: EmailMessage, sender: str, rcpts: list[str], *, retry_idle: bool
    ) -> None:
        # One MAIL / RCPT / DATA dialogue driven step by step, so every reply is judged by the
        # phase it answers: smtplib's sendmail() folds them into exceptions that are all OSErrors.
        reused = self._conn is not None and _is_open(self._conn)
        conn = self._conn if reused and self._conn is not None else self._connect()
        self._conn = conn
        env_sender, env_rcpts, data, options = self._wire(conn, msg, sender, rcpts)
        phase = "mail"
        try:
            code, reply = conn.mail(env_sender, options)
            if code != 250:
                raise self._refused(conn, refusal("mail", code, reply, sender))
            phase = "rcpt"
            for shown, addr in zip(rcpts, env_rcpts, strict=True):
                code, reply = conn.rcpt(addr)
                if code not in (250, 251):
                    raise self._refused(conn, refusal("rcpt", code, reply, shown))
            phase = "data"
            data_reply: bytes | str
            try:
                code, data_reply = conn.data(data)
            except smtplib.SMTPDataError as exc:  # the DATA command itself was refused
                code, data_reply = exc.smtp_code, exc.smtp_error
            if code != 250:
                raise self._refused(conn, refusal("data", code, data_reply, rcpts[0]))
        except UnicodeError as exc:
            raise self._refused(
                conn, MailMessageError(f"cannot encode the {phase} command for SMTP: {exc}")
            ) from exc
        except OSError as exc:  # disconnects and timeouts (smtplib's own errors are OSErrors too)
            self._drop()
            if phase == "mail" and reused and retry_idle:
                # The server closed the connection we kept between messages: open a new one once.
                self._transact(msg, sender, rcpts, retry_idle=False)
                return
            if phase == "mail":
                raise MailConnectionError(
                    f"SMTP connection to {self.host}:{self.port} lost ({exc}); "
                    "the message was not sent"
                ) from exc
            raise MailServerError(
                f"SMTP connection to {self.host}:{self.port} lost during {phase.upper()} ({exc}); "
                "the message will be sent again later"
            ) from exc

    def _wire(
        self, conn: smtplib.SMTP, msg: EmailMessage, sender: str, rcpts: list[str]
    ) -> tuple[str, list[str], bytes, list[str]]:
        """The envelope, bytes and MAIL options for this server (RFC 6531 only where offered)."""
        if _ascii(sender, *rcpts):
            utf8 = False
        elif conn.has_extn("smtputf8"):
            utf8 = True
        else:
            utf8 = False
            ascii_sender = ascii_address(sender)
            if ascii_sender is None:
                raise MailError(
                    f"mail_from {sender!r} needs SMTPUTF8 (RFC 6531), which {self.host}:"
                    f"{self.port} does not offer: use an ASCII From address"
                )
            mapped = []
            for addr in rcpts:
                ascii_addr = ascii_address(addr)
                if ascii_addr is None:
                    raise MailPermanentError(
                        f"recipient {addr} has a non-ASCII local part, which needs SMTPUTF8 "
                        f"(RFC 6531); {self.host}:{self.port} does not offer it",
                        recipient=addr,
                        code=553,
                    )
                mapped.append(ascii_addr)
            if mapped != rcpts or ascii_sender != sender:
                # Only the domain was non-ASCII: its IDNA form (xn--) needs no extension.
                msg = copy.copy(msg)
                for name, old, new in (("From", [sender], [ascii_sender]), ("To", rcpts, mapped)):
                    value = str(msg.get(name, ""))
                    for a, b in zip(old, new, strict=True):
                        value = value.replace(a, b)
                    del msg[name]
                    msg[name] = value
            sender, rcpts = ascii_sender, mapped
        wire = copy.copy(msg)
        del wire["Bcc"]
        del wire["Resent-Bcc"]
        buf = io.BytesIO()
        policy = msg.policy.clone(utf8=utf8)  # type: ignore[call-arg]  # EmailPolicy has utf8
        BytesGenerator(buf, policy=policy).flatten(wire, linesep="\r\n")
        data = buf.getvalue()
        options = ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else []
        if conn.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        return sender, rcpts, data, options

    def _refused(self, conn: smtplib.SMTP, error: MailError) -> MailError:
        """Leave the connection ready for the next message (RSET), or drop it if it cannot be."""
        if isinstance(error, MailServerError | MailConnectionError):
            self._drop()
            return error
        try:
            code, _reply = conn.rset()
            if code != 250:
                self._drop()
        except OSError:
            self._drop()
        return error

    def _drop(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn, quit=False)
            self._conn = None

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None


def _is_open(conn: smtplib.SMTP) -> bool:
    return getattr(conn, "sock", None) is not None


def _quietly_close(conn: smtplib.SMTP, *, quit: bool = True) -> None:
    try:
        if quit and _is_open(conn):
            conn.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def _text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())


def enhanced_status(text: str) -> tuple[int, int, int] | None:
    """The RFC 3463 enhanced status code at the start of a reply text ('5.1.1 no such user')."""
    m = _ENHANCED.match(text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def refusal(phase: str, code: int, reply: bytes | str, address: str) -> MailError:
    """The error a non-2xx reply means, judged by SMTP phase (RFC 5321) and enhanced status (RFC 3463).

    Only a recipient's own address problem (X.1.x address, X.2.x mailbox, or a bare 550/551/553
    to RCPT) blames the recipient; a 4xx to RCPT retries that message later. A refusal of MAIL
    FROM, a 5xx with X.3/X.4/X.5/X.6/X.7 (system, network, protocol, content, policy: "550 5.4.5
    sending quota exceeded"), a 5xx or system 4xx to DATA, and 421 stop the run instead, so one
    quota error cannot mark a thousand subscriptions bounced.
    """
    text = _text(reply)
    esc = enhanced_status(text)
    subject = esc[1] if esc else 0
    where = {"mail": "MAIL FROM", "rcpt": f"RCPT TO <{address}>", "data": "DATA"}[phase]
    said = f"SMTP server answered {where} with {code} {text}"
    if code == 421 or not 400 <= code < 600:
        return MailServerError(f"{said}: sending stopped, retry later", code=code)
    if phase == "mail":
        return MailServerError(
            f"{said}: sending stopped; check mail_from and the relay's sending limits", code=code
        )
    if code < 500:
        if phase == "data" and subject in (3, 4):  # X.3 mail system, X.4 network trouble
            return MailServerError(f"{said}: sending stopped, retry later", code=code)
        return MailTemporaryError(f"{said}: will retry", code=code)
    if phase == "rcpt" and code == 552:  # RFC 5321 4.5.3.1.10: 552 to RCPT means 452
        return MailTemporaryError(f"{said}: will retry", code=code)
    mailbox = subject in (1, 2) and esc != (5, 2, 3)  # 5.2.3 is the message's size, not the box
    if mailbox or (subject == 0 and phase == "rcpt" and code in (550, 551, 553)):
        return MailPermanentError(f"{said}: address refused", recipient=address, code=code)
    return MailServerError(
        f"{said}: refused for a reason that is not the recipient's; sending stopped", code=code
    )


def ascii_address(addr: str) -> str | None:
    """The address with an IDNA (xn--) domain, or None when its local part is not ASCII."""
    local, _at, domain = addr.rpartition("@")
    if not _ascii(local):
        return None
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}" if local else None
    except UnicodeError:
        return None


def _ascii(*texts: str) -> bool:
    return all(t.isascii() for t in texts)


def make_mailer(settings: Settings) -> Mailer:
    """The mailer the settings ask for: 'console' (default) or 'smtp'."""
    backend = settings.mail_backend.strip().lower()
    if backend == "console":
        return ConsoleMailer()
    if backend == "smtp":
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            security=settings.smtp_security.strip().lower(),
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
        )
    raise ConfigError(
        f"mail_backend={settings.mail_backend!r} is not valid: use 'console' or 'smtp'"
    )
