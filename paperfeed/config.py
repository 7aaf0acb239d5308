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
    crawlers: str = setting(
        "allow",
        "Search engines: 'allow' opens the public pages (feed days, papers, authors) in robots.txt and lists them in /sitemap.xml; 'deny' closes the whole site (robots.txt Disallow: /, X-Robots-Tag: noindex on every answer).",
    )
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
    index_on_start: bool = setting(
        True,
        "`paperfeed serve` brings the search index up to date at start: keywords at once, vectors in the background.",
    )
    index_on_start_max_embed: int = setting(
        50_000,
        "With index_on_start: the most papers `serve` embeds itself; with more lacking vectors it builds keywords only and leaves embedding to `paperfeed index` or the worker.",
    )
    secret_key: str = setting(
        "", "Secret for signing sessions and tokens; generated into the data folder when empty."
    )
    # --- search ---
    embed_model: str = setting(
        "minilm",
        "Embedding model: 'minilm' (bundled all-MiniLM-L6-v2 int8 ONNX), 'hash' (tests only), "
        "or 'st:<name or path>' for a sentence-transformers model (extra [st]).",
    )
    embed_batch: int = setting(32, "Papers embedded per model call.")
    embed_threads: int = setting(0, "CPU threads for the embedding model; 0 means all cores.")
    search_fusion: str = setting(
        "weighted", "Hybrid fusion: 'weighted' (min-max, dense weight below) or 'rrf'."
    )
    search_dense_weight: float = setting(
        0.5,
        "Weight of the semantic half in weighted hybrid fusion (lexical gets the rest); 0.5 beat "
        "both halves in bench/relevance.py, 0.7 did not on known-item queries.",
    )
    search_candidates: int = setting(
        200, "Hits each half contributes to hybrid fusion and to filtered semantic search."
    )
    schedule_index: str = setting(
        "10m",
        "When the worker brings the search indexes up to date and embeds new papers (cron in "
        "UTC or interval); a run with nothing new takes milliseconds. Empty disables.",
    )
    # --- publish: one keyword index built by the worker, followed by every web process ---
    index_publish_dir: str = setting(
        "",
        "Shared folder (or file:// URL) where `paperfeed index` and the worker publish keyword-index generations and web processes fetch them (docs/deploy.md); empty means each process indexes for itself.",
    )
    index_publish_keep: int = setting(
        3, "Published keyword-index generations kept in index_publish_dir (the named one always)."
    )

    # --- digests / mail ---
    mail_backend: str = setting(
        "console", "How email is sent: 'console' (print to stdout, development) or 'smtp'."
    )
    mail_from: str = setting(
        "paperfeed <noreply@localhost>", "From address of digests and account emails."
    )
    smtp_host: str = setting("localhost", "SMTP server host.")
    smtp_port: int = setting(0, "SMTP port; 0 means 25, 587 for starttls or 465 for ssl.")
    smtp_security: str = setting("none", "SMTP transport security: 'none', 'starttls' or 'ssl'.")
    smtp_username: str = setting("", "SMTP login user; empty means no authentication.")
    smtp_password: str = setting("", "SMTP login password.")
    smtp_timeout: float = setting(30.0, "Seconds before an SMTP connection or command times out.")
    digest_hour: int = setting(7, "Default local hour (0-23) a daily digest is sent.")
    digest_timezone: str = setting("UTC", "Default IANA time zone for new subscriptions.")
    digest_weekly_day: int = setting(0, "Weekday of weekly digests: 0 is Monday, 6 Sunday.")
    digest_items_per_section: int = setting(10, "Most papers in one digest section.")
    digest_skip_empty: bool = setting(True, "Don't send a digest that has nothing new.")
    digest_rate_per_minute: int = setting(
        0, "Most digest emails sent per minute; 0 means unlimited."
    )
    digest_max_attempts: int = setting(
        8, "Attempts on temporary (4xx) failures before an outbox row is marked failed."
    )
    digest_retry_base: float = setting(
        60.0, "Seconds before the first retry after a 4xx; doubles each attempt (capped at 6 h)."
    )
    digest_bounce_limit: int = setting(
        3, "Permanent (5xx) failures after which a subscription is marked bounced and not mailed."
    )
    digest_list_id: str = setting(
        "", "List-Id header domain part; empty means 'digest.<host of base_url>'."
    )
    digest_unsubscribe_mailto: str = setting(
        "", "Optional mailto address added to List-Unsubscribe (e.g. unsubscribe@example.org)."
    )
    subscribe_rate_per_hour: int = setting(
        10, "Subscribe requests allowed per hour from one IP address and for one email address."
    )
    digest_sending_lease: float = setting(
        600.0,
        "Seconds after which a digest stuck in 'sending' (its worker died) is sent again.",
    )
    schedule_digests: str = setting(
        "*/15 * * * *",
        "When the worker composes and sends due digests (cron in UTC or interval); each "
        "subscription's own hour and time zone decide what is due. Empty disables.",
    )
    mail_queue_poll: float = setting(
        5.0,
        "Seconds between looks at the account-mail queue by `paperfeed serve`'s sender "
        "(a new message wakes the sender of the process that queued it at once).",
    )
    mail_queue_lease: float = setting(
        300.0,
        "Seconds an account email stays claimed by one sender; after that (its sender died) "
        "another sends it again. Keep it above a few smtp_timeout.",
    )
    mail_queue_max_attempts: int = setting(
        6, "Attempts on temporary failures before a queued account email is marked failed."
    )
    mail_queue_retry_base: float = setting(
        30.0, "Seconds before an account email's first retry; doubles each attempt (6 h at most)."
    )
    schedule_mail: str = setting(
        "1m",
        "When the worker sends queued account emails (cron in UTC or interval); `paperfeed "
        "serve` also sends them itself. Empty disables the worker job.",
    )

    # --- harvest & worker ---
    http_backoff: float = setting(
        2.0, "First retry delay (seconds) after an upstream failure; doubles on each retry."
    )
    harvest_arxiv_sets: str = setting(
        "cs",
        "Comma-separated arXiv OAI-PMH sets the scheduled harvest fetches (e.g. cs,stat or "
        "physics:hep-th); empty means every set.",
    )
    harvest_arxiv_format: str = setting(
        "arXivRaw", "OAI-PMH metadata format: arXivRaw (has versions), arXiv or oai_dc."
    )
    harvest_backfill_days: int = setting(
        3, "Days a source's first scheduled harvest reaches back when it has no cursor yet."
    )
    schedule_harvest_arxiv: str = setting(
        "0 3 * * *",
        "When the worker harvests arXiv: a cron expression in UTC ('0 3 * * *') or an interval "
        "('6h', '30m', '1d'); empty disables the job.",
    )
    schedule_harvest_hf: str = setting(
        "0 */6 * * *",
        "When the worker harvests Hugging Face daily papers (cron in UTC or interval); empty disables.",
    )
    # --- bioRxiv / medRxiv (docs/biorxiv.md) ---
    biorxiv_api_url: str = setting(
        "https://api.biorxiv.org", "bioRxiv/medRxiv API (the /details endpoints) base URL."
    )
    harvest_biorxiv_servers: str = setting(
        "biorxiv,medrxiv", "Comma-separated servers the scheduled bioRxiv harvest fetches."
    )
    harvest_biorxiv_categories: str = setting(
        "",
        "Comma-separated bioRxiv/medRxiv subjects the scheduled harvest fetches (e.g. "
        "genomics,cell biology); empty means every subject.",
    )
    schedule_harvest_biorxiv: str = setting(
        "",
        "When the worker harvests bioRxiv/medRxiv (cron in UTC or interval, e.g. '0 4 * * *'); "
        "empty (the default) disables the job.",
    )
    sources: str = setting(
        "arxiv,biorxiv,medrxiv",
        "Comma-separated paper sources this instance harvests and shows (arxiv, biorxiv, "
        "medrxiv): the worker skips the others' jobs, feeds and search leave their papers out.",
    )
    categories: str = setting(
        "",
        "Comma-separated categories this instance harvests and shows (e.g. biorxiv.genomics,"
        "medrxiv or cs.CL); a server or archive means all of it, empty means every category.",
    )
    serve_scheduler: bool = setting(
        False, "Run the worker's scheduled jobs inside `paperfeed serve` (single-machine setups)."
    )
    job_lock_lease: float = setting(
        900.0,
        "Seconds a SQLite job lock lasts without renewal before another worker may take it "
        "(PostgreSQL uses advisory locks that end with the session).",
    )

    # --- community ---
    trending_half_life_hours: float = setting(
        24.0, "Trending: hours after which an upvote or a gained star counts half as much."
    )
    trending_star_weight: float = setting(
        0.1, "Trending: weight of one GitHub star gained relative to one upvote."
    )
    trending_window_days: float = setting(
        14.0, "Trending: days of votes and star history the score reads (older events are ignored)."
    )
    submission_max_age_days: int = setting(
        14, "A paper can be submitted up to this many days after its first arXiv version."
    )
    submission_daily_cap: int = setting(
        10, "Most papers one member may submit per UTC day (curators are not capped)."
    )
    comment_max_chars: int = setting(10_000, "Longest comment accepted, in characters.")
    max_form_bytes: int = setting(
        262_144,
        "Largest request body (bytes) any route accepts except the library import; counted while "
        "it streams, so a larger one gets 413 before it is buffered.",
    )
    login_rate_limit: int = setting(
        10, "Sign-in attempts allowed per 15 minutes per IP address and per email address."
    )
    mail_rate_limit: int = setting(
        5, "Account emails (verification, magic links) per hour per address and per IP (x4)."
    )
    write_rate_limit: int = setting(
        60, "Submissions, votes and comments one member may post per minute."
    )
    session_days: int = setting(30, "Days a sign-in session lasts.")
    magic_link_minutes: int = setting(15, "Minutes a sign-in link stays valid.")
    verify_link_hours: int = setting(48, "Hours an email verification link stays valid.")
    schedule_rank: str = setting(
        "15m",
        "When the worker recomputes trending scores (cron in UTC or interval); empty disables.",
    )

    # --- recommendations & library ---
    recommend_pool: int = setting(
        3000, "Recommendations: newest papers scored per member (plus neighbours of their library)."
    )
    recommend_negatives: int = setting(
        200, "Recommendations: unseen papers sampled as negatives when training a member's model."
    )
    recommend_half_life_days: float = setting(
        90.0, "Recommendations: days after which a saved paper counts half as much (floor 1/4)."
    )
    recommend_cache_size: int = setting(
        100, "Recommendations stored per member and collection (the /for-you list's length)."
    )
    recommend_max_impressions: int = setting(
        3, "A recommendation shown on this many days without a save or upvote drops out."
    )
    schedule_recommend: str = setting(
        "30m",
        "When the worker refreshes stale recommendations (cron in UTC or interval); empty disables.",
    )
    library_import_max_bytes: int = setting(
        20_000_000,
        "Largest library file (BibTeX, RIS, CSL-JSON) the import form accepts, in bytes (plus "
        "64 KiB for the form around it); a larger upload gets 413 while it streams.",
    )

    # --- chat push (docs/chat.md) ---
    chat_allow_private_targets: bool = setting(
        False,
        "Chat push: allow Apprise URLs whose host resolves to a private, loopback, link-local, "
        "multicast or reserved address (off: no server-side request forgery; on for a LAN ntfy).",
    )
    chat_max_channels: int = setting(10, "Chat push: most Apprise URLs one member may add.")
    chat_max_attempts: int = setting(
        6, "Chat push: attempts on a failing endpoint before an alert is given up."
    )
    chat_retry_base: float = setting(
        30.0,
        "Chat push: seconds before an alert's first retry; doubles each attempt (6 h at most).",
    )
    chat_lease: float = setting(
        120.0,
        "Chat push: seconds an alert stays claimed by one sender; after that (its sender died) "
        "another sends it again. Keep it above the longest endpoint timeout.",
    )
    chat_poll: float = setting(
        5.0, "Chat push: seconds between looks at the chat outbox by `paperfeed serve`'s sender."
    )
    chat_test_rate_per_hour: int = setting(
        5, "Chat push: test messages one member may send per hour from the settings page."
    )
    schedule_chat: str = setting(
        "1m",
        "When the worker sends queued chat alerts (cron in UTC or interval); `paperfeed serve` "
        "also sends them itself. Empty disables the worker job.",
    )

    # --- operations ---
    log_format: str = setting(
        "text", "Log lines of `paperfeed serve` and `paperfeed worker`: 'text' or 'json'."
    )
    log_level: str = setting("info", "Lowest level logged: debug, info, warning or error.")
    web_workers: int = setting(
        1, "Web processes `paperfeed serve` starts (--workers); each opens its own connections."
    )
    visitor_cache_seconds: float = setting(
        1.0,
        "Feed pages for signed-out readers come from a per-process cache, checked against the store's change marks at most this often (seconds; writes through the same process count at once); 0 turns it off.",
    )
    # --- Hub repos citing a paper (models, datasets, Spaces) ---
    hf_hub_url: str = setting(
        "https://huggingface.co",
        "Hugging Face Hub base URL: its /api/models, /api/datasets and /api/spaces listings "
        "(filter=arxiv:<id>) and the repo links shown.",
    )
    schedule_hub_links: str = setting(
        "40 */6 * * *",
        "When the worker asks the Hub which repos cite recently featured papers (cron in UTC or "
        "interval); empty disables.",
    )
    hub_links_days: int = setting(
        14, "Papers featured within this many days get their Hub repos fetched and refreshed."
    )
    hub_links_refresh_days: float = setting(
        7.0, "Days before a paper's Hub repos are asked for again."
    )
    hub_links_batch: int = setting(
        40, "Most papers one hub_links run asks about (3 polite requests each, or more with pages)."
    )
    hub_links_keep: int = setting(
        20, "Repos of each kind kept and shown per paper (the count covers all of them)."
    )
    hub_links_max_pages: int = setting(
        5, "Listing pages of 100 read per paper and kind; past that the count is a lower bound."
    )
    # --- summaries written by a model the operator runs (never on a page request) ---
    summarizer: str = setting(
        "none",
        "Who writes summaries of papers that have none from Hugging Face: 'none' or 'openai' "
        "(any OpenAI-compatible chat-completions server: Ollama, llama.cpp, vLLM).",
    )
    summarizer_url: str = setting(
        "", "Base URL of the chat-completions API, e.g. http://127.0.0.1:11434/v1 (Ollama)."
    )
    summarizer_model: str = setting("", "Model name sent to the summarizer and shown on pages.")
    summarizer_api_key: str = setting(
        "", "Bearer key for the summarizer, if it wants one (keep it out of the repository)."
    )
    summarizer_timeout: float = setting(120.0, "Seconds one summary may take.")
    summarizer_batch: int = setting(50, "Most papers summarized per run of the summarize job.")
    schedule_summaries: str = setting(
        "*/30 * * * *",
        "When the worker summarizes papers lacking a summary (only when summarizer is not 'none').",
    )

    # --- authors: pages and authorship claims ---
    orcid_api_url: str = setting(
        "https://pub.orcid.org",
        "ORCID public API base URL; a claim with an ORCID iD is confirmed when {url}/v3.0/{iD}/works lists the paper's arXiv id or DOI.",
    )
    author_page_size: int = setting(20, "Papers per page on author and organization pages.")

    # --- full text from arXiv's HTML ---
    fulltext_enabled: bool = setting(
        False,
        "Fetch arXiv's HTML rendering of new papers (worker job and `paperfeed fulltext`) for "
        "sections, full-text search, references and cited-by.",
    )
    arxiv_html_url: str = setting(
        "https://arxiv.org/html", "Base URL of arXiv's HTML renderings (<base>/<id>v<version>)."
    )
    fulltext_batch: int = setting(
        50, "Papers whose HTML one run of the full-text job fetches (3 s apart, so 50 take ~3 min)."
    )
    schedule_fulltext: str = setting(
        "30m",
        "When the worker fetches full texts, if PAPERFEED_FULLTEXT_ENABLED is on (cron in UTC or "
        "interval); empty disables.",
    )

    # --- follows (docs/follow.md) ---
    follow_max_per_member: int = setting(
        5000, "Most things one member may follow (authors, categories, searches...)."
    )
    follow_similarity: float = setting(
        0.5,
        "Cosine similarity a new paper needs to a 'meaning' search or to a followed collection's centroid to match it.",
    )
    follow_match_batch: int = setting(
        5000, "New papers matched against the follows per step (one in-memory keyword index each)."
    )

    # --- similar papers (docs/search.md; bench/similar.py and MODELS.md's expert-judged figures) ---
    similar_dense_weight: float = setting(
        0.6, "Weight of vector (meaning) similarity in a paper's similar papers."
    )
    similar_tfidf_weight: float = setting(
        0.3, "Weight of whole-document TF-IDF cosine (title, abstract, keywords) in similar papers."
    )
    similar_keywords_weight: float = setting(
        0.1, "Weight of shared keyphrases (HF's and ours) in similar papers."
    )
    similar_body_weight: float = setting(
        0.05,
        "Weight of the paper's distinctive terms found in other papers' full text (not tuned: "
        "no benchmark has full texts yet).",
    )

    # --- jobs: the PostgreSQL job queue shared by several workers, GPU-ready embedding ---
    job_queue: str = setting(
        "local",
        "How `paperfeed worker` runs jobs: 'local' (an in-process scheduler, one worker per "
        "database) or 'postgres' (a procrastinate queue in the PostgreSQL database shared by "
        "any number of workers; docs/deploy.md).",
    )
    queue_concurrency: int = setting(
        1, "With job_queue=postgres: jobs one `paperfeed worker` process runs at once."
    )
    queue_heartbeat: float = setting(
        10.0, "With job_queue=postgres: seconds between a worker's heartbeats in the database."
    )
    queue_stalled_after: float = setting(
        60.0,
        "With job_queue=postgres: seconds without a heartbeat after which a worker counts as "
        "dead and its running jobs are queued again (checked every half of this).",
    )
    queue_retries: int = setting(
        5, "With job_queue=postgres: retries of a failed job before it stays failed."
    )
    queue_retry_wait: float = setting(
        60.0,
        "With job_queue=postgres: seconds before the first retry of a failed job; each next "
        "retry waits twice as long (at most a day).",
    )
    queue_poll: float = setting(
        5.0, "With job_queue=postgres: most seconds an idle worker waits before looking for jobs."
    )
    embed_claim: int = setting(
        1000,
        "With job_queue=postgres: papers one queued embedding job takes from the backlog, so "
        "several workers share it without embedding a paper twice.",
    )
    embed_providers: str = setting(
        "CPUExecutionProvider",
        "ONNX Runtime execution providers of the embedding model, in order of preference (e.g. "
        "'CUDAExecutionProvider,CPUExecutionProvider' where onnxruntime-gpu is installed).",
    )
    # --- pgvec: vectors in PostgreSQL (docs/search.md "Vector backends") ---
    vector_backend: str = setting(
        "auto",
        "Where search by meaning runs: 'auto' (pgvector on PostgreSQL with the vector extension, "
        "else usearch), 'usearch' (a local index file per machine) or 'pgvector' (in PostgreSQL).",
    )
    pgvector_ef_search: int = setting(
        200,
        "pgvector: HNSW candidates kept per search (hnsw.ef_search); higher is slower and finds more.",
    )
    pgvector_exact_max: int = setting(
        5000,
        "pgvector: a category filter matching at most this many papers ranks all of them exactly instead of walking the HNSW graph (recall 1.0; the walk wins from about 7,500 papers at 1M, docs/benchmarks.md).",
    )
    pgvector_build_memory: str = setting(
        "1GB",
        "pgvector: maintenance_work_mem for building the HNSW index; about 1 GB per million vectors keeps the build in memory.",
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


def settings_markdown() -> str:
    """The settings as the Markdown page docs/configuration.md."""
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable; `paperfeed settings` prints this list.",
        "This page is generated by `paperfeed settings --markdown > docs/configuration.md`",
        "and a test keeps it in step with the code.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, default, help_ in describe():
        lines.append(f"| `{name}` | `{default}` | {help_.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


# --- bio: which paper sources an instance harvests (docs/biorxiv.md) ---

PAPER_SOURCES = ("arxiv", "biorxiv", "medrxiv")
# The paper source each harvest source feeds: Hugging Face's daily papers are arXiv papers.
HARVEST_SOURCE_OF = {"arxiv": "arxiv", "hf": "arxiv", "arxiv-ids": "arxiv"}


def enabled_sources(settings: Settings) -> tuple[str, ...]:
    """The paper sources PAPERFEED_SOURCES lists (all three when it is empty)."""
    listed = [s.strip().lower() for s in settings.sources.split(",") if s.strip()]
    unknown = [s for s in listed if s not in PAPER_SOURCES]
    if unknown:
        raise ConfigError(
            f"PAPERFEED_SOURCES names {', '.join(unknown)}: use some of {', '.join(PAPER_SOURCES)}"
        )
    return tuple(listed) or PAPER_SOURCES


def check_harvest_enabled(settings: Settings, name: str, server: str | None = None) -> None:
    """ConfigError when a harvest would fetch papers of a source this instance leaves out."""
    source = HARVEST_SOURCE_OF.get(name) or server
    if source and source not in enabled_sources(settings):
        raise ConfigError(
            f"{source} is not among PAPERFEED_SOURCES={settings.sources!r}: add it to harvest it"
        )
