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
