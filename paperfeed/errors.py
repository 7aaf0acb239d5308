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
