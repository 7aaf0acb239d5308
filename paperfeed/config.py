"""One table of settings (name, default, help), read from PAPERFEED_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from paperfeed.errors import ConfigError


def setting(default: Any, help: str) -> Any:
    """Declare one setting: its default and a one-line help shown in docs and `paperfeed settings`."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Validated settings; each field is PAPERFEED_<NAME> in the environment."""

    database_url: str = setting(
        "sqlite:///paperfeed.db",
        "SQLAlchemy URL of the database: sqlite:///path.db or postgresql://user@host/db.",
    )
    data_dir: str = setting(
        "",
        "Folder for derived data (search indexes); empty means beside the SQLite file or ./paperfeed-data.",
    )
    host: str = setting("127.0.0.1", "Address `paperfeed serve` listens on.")
    port: int = setting(8000, "Port `paperfeed serve` listens on.")
    base_url: str = setting(
        "http://127.0.0.1:8000", "Public URL of this instance, used in feeds and emails."
    )
    site_name: str = setting("paperfeed", "Name shown in page titles and emails.")
    page_size: int = setting(50, "Papers per feed page.")
    contact_email: str = setting(
        "", "Operator's contact address, sent in the User-Agent to upstream services."
    )
    arxiv_oai_url: str = setting("https://oaipmh.arxiv.org/oai", "arXiv OAI-PMH endpoint.")
    arxiv_api_url: str = setting("https://export.arxiv.org/api/query", "arXiv API (Atom) endpoint.")
    hf_api_url: str = setting("https://huggingface.co", "Hugging Face base URL for daily papers.")
    http_min_interval: float = setting(
        3.0, "Minimum seconds between two requests to the same upstream host."
    )
    http_timeout: float = setting(30.0, "Seconds before an upstream request times out.")
    http_retries: int = setting(4, "Retries on upstream 5xx, 429 and timeouts.")
    retry_after_cap: float = setting(
        300.0, "Longest Retry-After (seconds) honoured before giving up."
    )
    secret_key: str = setting(
        "", "Secret for signing sessions and tokens; generated into the data folder when empty."
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read PAPERFEED_* variables, apply explicit overrides, and validate types."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"PAPERFEED_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _coerce(f.name, f.type, raw)
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return replace(self, **changes)

    @property
    def derived_dir(self) -> Path:
        """The folder for derived data such as search indexes."""
        if self.data_dir:
            return Path(self.data_dir)
        if self.database_url.startswith("sqlite:///") and self.database_url != "sqlite:///:memory:":
            db = Path(self.database_url.removeprefix("sqlite:///"))
            return db.with_name(db.stem + "-data")
        return Path("paperfeed-data")


def _coerce(name: str, typ: Any, raw: str) -> Any:
    kind = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
    except ValueError:
        raise ConfigError(
            f"PAPERFEED_{name.upper()}={raw!r} is not a valid {kind}; fix or unset it"
        ) from None
    return raw


def describe() -> list[tuple[str, str, str]]:
    """Each setting's environment variable, default and help, for docs and the CLI."""
    return [
        (f"PAPERFEED_{f.name.upper()}", repr(f.default), f.metadata.get("help", ""))
        for f in fields(Settings)
    ]
