"""Exceptions whose message says what went wrong and how to fix it."""


class PaperfeedError(Exception):
    """Base class: the CLI prints the message as one line instead of a traceback."""


class ConfigError(PaperfeedError):
    """A setting is missing or invalid."""


class InvalidId(PaperfeedError, ValueError):
    """A string is not a recognisable arXiv identifier."""


class NotFound(PaperfeedError, LookupError):
    """The requested paper, day or object does not exist."""


class ImportFormatError(PaperfeedError):
    """An import file's format cannot be recognised or parsed."""


class UpstreamError(PaperfeedError):
    """An upstream service answered with an error or a malformed payload."""


class MissingExtra(PaperfeedError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


# --- digests / mail ---
class MailError(PaperfeedError):
    """Sending an email failed; subclasses say whether to retry, bounce or pause."""


class MailTemporaryError(MailError):
    """The mail server answered 4xx: try the same message again later."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class MailPermanentError(MailError):
    """The mail server answered 5xx for a recipient: the address bounced."""

    def __init__(self, message: str, *, recipient: str = "", code: int | None = None) -> None:
        super().__init__(message)
        self.recipient = recipient
        self.code = code


class MailConnectionError(MailError):
    """The mail server cannot be reached or dropped the connection; check smtp_host/smtp_port."""


class MailMessageError(MailError):
    """The message itself cannot be sent (a header with a line break, no recipient)."""


class MailServerError(MailError):
    """The server refused or broke off a transaction for no recipient's fault (quota, policy, 421): stop, retry later."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


# --- community ---


class InvalidInput(PaperfeedError, ValueError):
    """A form field or parameter is invalid; the message says what is accepted."""


class Conflict(PaperfeedError):
    """The request clashes with existing data (an address in use, a paper already submitted)."""


class PermissionDenied(PaperfeedError):
    """The signed-in user may not do this (wrong role, not the author, not signed in)."""


class RateLimited(PaperfeedError):
    """Too many requests of one kind in a time window; the message says when to retry."""

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(PaperfeedError):
    """No credential, or one that is unknown, revoked or expired; the message says which."""
