"""The store: the only code that holds SQL; the source of truth for papers, votes and vectors."""

from paperfeed.store.db import Database
from paperfeed.store.migrate import open_database

__all__ = ["Database", "open_database"]
