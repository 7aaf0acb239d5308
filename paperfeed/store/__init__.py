"""The store: the only code that holds SQL; the source of truth for papers, votes and vectors."""

from paperfeed.store.db import Database, open_database

__all__ = ["Database", "open_database"]
