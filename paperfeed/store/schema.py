"""The current tables, as the migrations leave them, for building queries."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False),
    sa.Column("authors", sa.JSON, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("primary_category", sa.String(64)),
    sa.Column("published", sa.DateTime),
    sa.Column("updated", sa.DateTime),
    sa.Column("comments", sa.Text),
    sa.Column("journal_ref", sa.Text),
    sa.Column("doi", sa.String(255)),
    sa.Column("license", sa.String(255)),
    sa.Column("github_repo", sa.Text),
    sa.Column("project_page", sa.Text),
    sa.Column("ai_summary", sa.Text),
    sa.Column("ai_keywords", sa.JSON),
    sa.Column("ext_upvotes", sa.Integer, nullable=False),  # counts imported from upstream (HF)
    sa.Column("votes", sa.Integer, nullable=False),  # community votes cast here
    sa.Column("num_comments", sa.Integer, nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False),
    sa.Column("rev", sa.BigInteger, nullable=False),  # change counter: derived indexes follow it
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("modified_at", sa.DateTime, nullable=False),
    # --- m0010: Hugging Face fields ---
    sa.Column("organization_id", sa.String(64)),  # organizations.id
    sa.Column("discussion_id", sa.String(64)),
    sa.Column("thumbnail", sa.Text),
    sa.Column("media_urls", sa.JSON),
)

feed_entries = sa.Table(
    "feed_entries",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("submitted_by", sa.String(255)),
    sa.Column("submitted_at", sa.DateTime),
    sa.Column("source", sa.String(32), nullable=False),
    # --- m0010: the submitter as the Hub shows them, and the item's own publishedAt ---
    sa.Column("submitter_fullname", sa.String(255)),
    sa.Column("submitter_avatar", sa.Text),
    sa.Column("listed_at", sa.DateTime),
    sa.Column("author_participating", sa.Boolean),
)

# --- m0010: Hugging Face organizations a paper is affiliated with ---
organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the Hub's _id
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("fullname", sa.String(255), nullable=False),
    sa.Column("avatar", sa.Text),
)

signals = sa.Table(
    "signals",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("observed_at", sa.DateTime, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

harvest_state = sa.Table(
    "harvest_state",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("cursor", sa.Text),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

harvest_runs = sa.Table(
    "harvest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("new", sa.Integer, nullable=False),
    sa.Column("updated", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("message", sa.Text),
)

# Upvotes shown everywhere: imported counts plus votes cast on this instance.
upvotes_expr = (papers.c.ext_upvotes + papers.c.votes).label("upvotes")

# --- search (m0003) ---
paper_vectors = sa.Table(
    "paper_vectors",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32 little-endian
    sa.Column("text_hash", sa.String(32), nullable=False),  # of the embedded text
    sa.Column("paper_rev", sa.BigInteger, nullable=False),  # papers.rev when last checked
    sa.Column("rev", sa.BigInteger, nullable=False),  # vector change counter
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# --- community (m0004) ---
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False, unique=True),  # lower-cased email
    sa.Column("username", sa.String(40), nullable=False, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.Text),
    sa.Column("role", sa.String(16), nullable=False),  # admin | curator | member
    sa.Column("email_verified_at", sa.DateTime),
    sa.Column("github_url", sa.Text),
    sa.Column("orcid_url", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the cookie value
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

auth_tokens = sa.Table(
    "auth_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the mailed token
    sa.Column("kind", sa.String(16), nullable=False),  # login | verify | email
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("data", sa.Text),  # e.g. the new address of an email change
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("used_at", sa.DateTime),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("edited_at", sa.DateTime),
    sa.Column("deleted_at", sa.DateTime),
)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("submitted_at", sa.DateTime, nullable=False),
)

trending_scores = sa.Table(
    "trending_scores",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("votes_24h", sa.Integer, nullable=False),
    sa.Column("stars_gained", sa.Float, nullable=False),
    sa.Column("computed_at", sa.DateTime, nullable=False),
)

# --- harvest & worker (m0002) ---
job_locks = sa.Table(
    "job_locks",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("owner", sa.String(255), nullable=False),  # random token of the holder
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),  # lease end; renewed while running
)

# --- digests (m0005) ---
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False),  # lower-cased address, unique
    sa.Column("user_id", sa.Integer),  # users.id of a signed-in member, if any
    sa.Column("status", sa.String(16), nullable=False),  # pending|active|unsubscribed|bounced
    sa.Column("frequency", sa.String(16), nullable=False),  # daily|weekly
    sa.Column("sections", sa.JSON, nullable=False),  # ["trending", "featured", "searches"]
    sa.Column("searches", sa.JSON, nullable=False),  # [{"query": ..., "filters": {...}}]
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("hour", sa.Integer, nullable=False),
    sa.Column("confirm_token_hash", sa.String(64)),  # sha256 of the emailed confirm token
    sa.Column("confirm_sent_at", sa.DateTime),
    sa.Column("unsubscribe_token", sa.String(64), nullable=False),  # in every email's links
    sa.Column("bounce_count", sa.Integer, nullable=False),
    sa.Column("last_bounce_at", sa.DateTime),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("confirmed_at", sa.DateTime),
    sa.Column("unsubscribed_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

sent_items = sa.Table(
    "sent_items",
    metadata,
    sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscriptions.id"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("outbox_id", sa.Integer),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscriptions.id"), nullable=False),
    sa.Column("period", sa.String(32), nullable=False),  # unique with subscription_id
    sa.Column("token", sa.String(64), nullable=False),  # "view in browser" URL token
    sa.Column("message_id", sa.String(255), nullable=False),  # reused on every retry
    sa.Column("to_addr", sa.String(320), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("content", sa.JSON, nullable=False),  # sections of (paper id, upvotes) to render
    sa.Column("items", sa.Integer, nullable=False),
    # pending|sending|sent|failed|bounced|skipped (nothing new)|cancelled (unsubscribed first)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
)

# --- library & recommendations (m0006) ---
library_collections = sa.Table(
    "library_collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("name_key", sa.String(100), nullable=False),  # lower-cased, unique per member
    sa.Column("created_at", sa.DateTime, nullable=False),
)

library_items = sa.Table(
    "library_items",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column(
        "collection_id", sa.Integer, sa.ForeignKey("library_collections.id"), primary_key=True
    ),
    sa.Column("source", sa.String(16), nullable=False),  # save | import
    sa.Column("created_at", sa.DateTime, nullable=False),
)

library_hidden = sa.Table(
    "library_hidden",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

library_impressions = sa.Table(
    "library_impressions",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("shown", sa.Integer, nullable=False),
    sa.Column("last_shown_at", sa.DateTime, nullable=False),
)

library_state = sa.Table(
    "library_state",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("rev", sa.BigInteger, nullable=False),  # bumped on every library change
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

recommendation_runs = sa.Table(
    "recommendation_runs",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("scope", sa.String(32), primary_key=True),  # "" overall, "c<collection id>"
    sa.Column("profile_key", sa.String(64), nullable=False),  # library rev + votes when computed
    sa.Column("corpus_rev", sa.BigInteger, nullable=False),  # vector_rev when computed
    sa.Column("method", sa.String(32), nullable=False),  # model | centroid | empty
    sa.Column("positives", sa.Integer, nullable=False),
    sa.Column("negatives", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime, nullable=False),
)

recommendations = sa.Table(
    "recommendations",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("scope", sa.String(32), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reason", sa.JSON, nullable=False),  # {"near": [paper ids], "collection": name}
)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("bucket", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("window_end", sa.Float, nullable=False),  # Unix time the window closes
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Index("ix_rate_limits_window_end", "window_end"),
)

# --- account-mail queue (m0009) ---
mail_queue = sa.Table(
    "mail_queue",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("to_addr", sa.String(320), nullable=False),
    sa.Column("to_key", sa.String(320), nullable=False),  # lower-cased address, for delete_to
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False),  # inside `message`, kept on retries
    sa.Column("message", sa.Text, nullable=False),  # the rendered RFC 5322 message; '' once sent
    sa.Column("status", sa.String(16), nullable=False),  # pending|sending|sent|failed|bounced
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("claim_token", sa.String(32)),  # which sender holds the row while 'sending'
    sa.Column("lease_until", sa.DateTime),  # after this a 'sending' row may be claimed again
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
)

# --- m0018: Hub repos citing a paper, and summaries written by a configured model ---
paper_repos = sa.Table(
    "paper_repos",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # model | dataset | space
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("repo_id", sa.String(255), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)

paper_repo_counts = sa.Table(
    "paper_repo_counts",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("complete", sa.Boolean, nullable=False),
    sa.Column("fetched_at", sa.DateTime, nullable=False),
)

paper_summaries = sa.Table(
    "paper_summaries",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("input_hash", sa.String(64), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# --- follows (m0013): what members follow, each match once, notifications, private feed key ---
follows = sa.Table(
    "follows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    # author | org | category | search | collection | paper_version
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("target", sa.String(400), nullable=False),  # lookup key, unique per member+kind
    sa.Column("label", sa.String(400), nullable=False),  # what pages show
    sa.Column("data", sa.JSON, nullable=False),  # search: {"query", "mode"}; version: {"version"}
    sa.Column("created_at", sa.DateTime, nullable=False),
)

follow_matches = sa.Table(
    "follow_matches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("follow_id", sa.Integer, sa.ForeignKey("follows.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # 0, or the new version of paper_version
    sa.Column("matched_at", sa.DateTime, nullable=False),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("key", sa.String(120), nullable=False),  # unique per member: each event once
    sa.Column("kind", sa.String(16), nullable=False),  # match | reply | mention | claimed
    sa.Column("paper_id", sa.String(64)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("read_at", sa.DateTime),
)

follow_feed_keys = sa.Table(
    "follow_feed_keys",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("nonce", sa.String(64), nullable=False),  # part of the feed token; new = revoked
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# --- chat push (m0014) ---
chat_channels = sa.Table(
    "chat_channels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),  # the Apprise URL with its secrets: never shown back
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.Text),  # why the last alert was given up, shown on the settings page
    sa.Column("last_error_at", sa.DateTime),
)

chat_outbox = sa.Table(
    "chat_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel_id", sa.Integer, sa.ForeignKey("chat_channels.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("dedupe_key", sa.String(255), nullable=False),  # unique per channel: sent once
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("link", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending|sending|sent|failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("claim_token", sa.String(32)),  # which sender holds the row while 'sending'
    sa.Column("lease_until", sa.DateTime),  # after this a 'sending' row may be claimed again
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
)

# --- authors (m0012): who wrote what, by author_slug, and members' authorship claims ---
paper_authors = sa.Table(
    "paper_authors",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),  # 0-based, as in papers.authors
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("slug", sa.String(120), nullable=False),  # normalize.author_slug; "" = et al.
    sa.Index("ix_paper_authors_slug", "slug", "paper_id"),
)

author_claims = sa.Table(
    "author_claims",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("slug", sa.String(120), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | confirmed | rejected
    sa.Column("orcid", sa.String(19)),
    sa.Column("evidence", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("decided_by", sa.Integer),  # the curator's users.id; NULL when ORCID decided
)

# --- full text from arXiv's HTML (m0016) ---
fulltexts = sa.Table(
    "fulltexts",
    metadata,
    sa.Column("paper_id", sa.String(64), primary_key=True),  # papers.id
    sa.Column("status", sa.String(16), nullable=False),  # ok | missing | failed
    sa.Column("source_url", sa.Text, nullable=False),
    sa.Column("paper_version", sa.Integer, nullable=False),  # the version fetched
    sa.Column("fetched_at", sa.DateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),  # fetches since the last success
    sa.Column("retry_at", sa.DateTime),  # when a missing or failed one is tried again
    sa.Column("error", sa.Text),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("title", sa.Text),
    sa.Column("sections", sa.JSON),  # [{anchor, number, title, level, html, text}]
    sa.Column("num_references", sa.Integer, nullable=False),
    sa.Index("ix_fulltexts_due", "status", "retry_at"),
)
paper_references = sa.Table(
    "paper_references",
    metadata,
    sa.Column("paper_id", sa.String(64), primary_key=True),  # the citing paper
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("arxiv_id", sa.String(64)),
    sa.Column("doi", sa.String(255)),
    sa.Column("url", sa.Text),
    sa.Column("cited_id", sa.String(64)),  # the local paper it names, once it is in the store
    sa.Index("ix_paper_references_cited", "cited_id", "paper_id"),
    sa.Index("ix_paper_references_arxiv", "arxiv_id"),
    sa.Index("ix_paper_references_doi", "doi"),
)

# --- keywords (m0015) ---
paper_keywords = sa.Table(
    "paper_keywords",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # 'hf' (HF's ai_keywords) or 'local'
    sa.Column("rank", sa.Integer, nullable=False),  # 0 is the best
    sa.Column("keyword", sa.String(300), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint("paper_id", "source", "rank"),
)
keyword_runs = sa.Table(
    "keyword_runs",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
    sa.Column("extractor", sa.String(200), nullable=False),  # extractor version + model
    sa.Column("text_hash", sa.String(32), nullable=False),  # of the text keywords came from
    sa.Column("paper_rev", sa.BigInteger, nullable=False),  # papers.rev when last checked
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# --- personal API tokens (m0011) ---
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("scope", sa.String(8), nullable=False),  # read | write
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the secret
    sa.Column("prefix", sa.String(16), nullable=False),  # the secret's start, for display
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_used_at", sa.DateTime),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("revoked_at", sa.DateTime),
    sa.Index("ix_api_tokens_user_id", "user_id"),
    sa.Index("ix_api_tokens_prefix", "prefix"),
)

# --- m0017: paper sources (arXiv, bioRxiv, medRxiv) and every identity of a paper ---
papers.append_column(sa.Column("source", sa.String(16), nullable=False, server_default="arxiv"))
paper_identities = sa.Table(
    "paper_identities",
    metadata,
    # An arXiv id, a preprint DOI or a journal DOI (DOIs lower-cased: they ignore case).
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # arxiv, biorxiv, medrxiv or journal
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), nullable=False, index=True),
)

# --- m0025: links an author or curator set by hand outrank the sources' ---
papers.append_column(sa.Column("links_edited_at", sa.DateTime))
