"""Mailers: send one `EmailMessage` over SMTP or print it to stdout during development.

Interface shared with accounts (verification and sign-in links):
`make_mailer(settings).send(msg)` raises a `paperfeed.errors.MailError` subclass on failure:
`MailTemporaryError` (4xx, retry later), `MailPermanentError` (5xx for a recipient, bounce),
`MailConnectionError` (server unreachable or gone; pause and retry the whole run).
"""

from __future__ import annotations

import smtplib
import ssl
import sys
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
    MailTemporaryError,
)

SECURITY_MODES = ("none", "starttls", "ssl")
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


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
                conn.ehlo()
                if self.security == "starttls":
                    conn.starttls(context=self._context())
                    conn.ehlo()
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
        except smtplib.SMTPResponseException as exc:
            raise _from_response(exc.smtp_code, exc.smtp_error, "") from exc
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise MailConnectionError(
                f"cannot connect to SMTP server {self.host}:{self.port} ({exc}); "
                "check smtp_host, smtp_port and smtp_security"
            ) from exc
        return conn

    def send(self, msg: EmailMessage) -> None:
        """Deliver one message; raise MailTemporaryError, MailPermanentError or MailConnectionError."""
        check_headers(msg)
        rcpts = recipients_of(msg)
        if not rcpts:
            raise MailMessageError("refusing to send a message without recipients")
        conn = self._conn if self._conn is not None and _is_open(self._conn) else None
        if conn is None:
            conn = self._connect()
            self._conn = conn
        try:
            conn.send_message(msg, to_addrs=rcpts)
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop_if_closed()
            codes = {addr: code for addr, (code, _m) in exc.recipients.items()}
            bad = [a for a, c in codes.items() if c >= 500]
            if bad:
                raise MailPermanentError(
                    f"recipient {bad[0]} refused: {codes[bad[0]]} "
                    f"{_text(exc.recipients[bad[0]][1])}",
                    recipient=bad[0],
                    code=codes[bad[0]],
                ) from exc
            addr, (code, text) = next(iter(exc.recipients.items()))
            raise MailTemporaryError(
                f"recipient {addr} deferred: {code} {_text(text)}", code=code
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            self._drop_if_closed()
            if 400 <= exc.smtp_code < 500:
                raise MailTemporaryError(
                    f"sender deferred: {exc.smtp_code} {_text(exc.smtp_error)}", code=exc.smtp_code
                ) from exc
            raise MailError(
                f"SMTP server refused sender {exc.sender!r}: {exc.smtp_code} "
                f"{_text(exc.smtp_error)}; check mail_from"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop_if_closed()
            raise _from_response(exc.smtp_code, exc.smtp_error, rcpts[0]) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise MailConnectionError(
                f"SMTP connection to {self.host}:{self.port} lost ({exc}); the message was not sent"
            ) from exc
        except smtplib.SMTPException as exc:
            self._drop()
            raise MailError(f"SMTP error: {exc}") from exc
        finally:
            if self._batch == 0:
                self.close()

    def _drop_if_closed(self) -> None:
        if self._conn is not None and not _is_open(self._conn):
            self._conn = None

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


def _from_response(code: int, raw: bytes | str, recipient: str) -> MailError:
    if 400 <= code < 500:
        return MailTemporaryError(f"SMTP server deferred: {code} {_text(raw)}", code=code)
    if code >= 500:
        return MailPermanentError(
            f"SMTP server rejected the message for {recipient}: {code} {_text(raw)}",
            recipient=recipient,
            code=code,
        )
    return MailError(f"unexpected SMTP reply {code} {_text(raw)}")


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
