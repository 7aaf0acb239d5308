"""Pydantic models of the JSON API's responses, for the OpenAPI document (Hub field names)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # Responses may carry more keys than documented (huggingface_hub keeps unknown keys).
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ApiError(_Model):
    """An error: {"error": "what is wrong and how to fix it"}, as the Hub answers."""

    error: str


class HubUser(_Model):
    """A submitter as the Hub shows them."""

    id: str = Field(alias="_id")
    user: str
    name: str
    fullname: str
    avatarUrl: str | None = None
    type: str = "user"


class HubOrganization(_Model):
    """The organization a paper is affiliated with; avatarUrl repeats avatar for the client."""

    id: str = Field(alias="_id")
    name: str
    fullname: str
    avatar: str | None = None
    avatarUrl: str | None = None


class HubAuthor(_Model):
    """One author of a paper."""

    id: str = Field(alias="_id")
    name: str
    hidden: bool = False


class ArxivMeta(_Model):
    """paperfeed's arXiv metadata of a paper (not in the Hub's API)."""

    version: int
    categories: list[str]
    primaryCategory: str | None = None
    updatedAt: str | None = None
    comments: str | None = None
    journalRef: str | None = None
    doi: str | None = None
    license: str | None = None
    absUrl: str
    pdfUrl: str
    featuredOn: list[str] | None = None


class _Links(_Model):
    projectPage: str | None = None
    githubRepo: str | None = None
    githubStars: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    organization: HubOrganization | None = None
    mediaUrls: list[str] | None = None


class HubPaper(_Links):
    """A paper as /api/papers/{id} answers it."""

    id: str
    authors: list[HubAuthor]
    publishedAt: str | None = None
    title: str
    summary: str
    upvotes: int
    numComments: int = Field(description="comments posted on this instance")
    discussionId: str | None = None
    submittedOnDailyAt: str | None = None
    submittedOnDailyBy: HubUser | None = None
    isAuthorParticipating: bool | None = Field(
        None, description="/api/papers/{id}: a confirmed author commented here (or the Hub says so)"
    )
    arxiv: ArxivMeta


class HubPaperDetail(HubPaper):
    """/api/papers/{id}: a paper plus the repos citing it (once fetched) and whose summary it shows."""

    linkedModels: list[dict[str, Any]] | None = None
    numTotalModels: int | None = None
    linkedDatasets: list[dict[str, Any]] | None = None
    numTotalDatasets: int | None = None
    linkedSpaces: list[dict[str, Any]] | None = None
    numTotalSpaces: int | None = None
    aiSummaryBy: Literal["huggingface", "paperfeed"] | None = Field(
        None, description="who wrote ai_summary: Hugging Face, or a model run by this instance"
    )
    aiSummaryModel: str | None = Field(None, description="the model that wrote a paperfeed summary")


class DailyItem(_Links):
    """One /api/daily_papers item; publishedAt is when the Hub listed it (client submitted_at)."""

    paper: HubPaper
    publishedAt: str | None = None
    title: str
    summary: str
    numComments: int
    isAuthorParticipating: bool
    thumbnail: str | None = None
    submittedBy: HubUser | None = None


class HighlightPart(_Model):
    """A run of text in a highlighted title or summary."""

    type: Literal["text", "highlight"]
    text: str


class SearchItem(DailyItem):
    """One /api/papers/search item: a daily item plus highlighted matches and a score."""

    highlightedTitle: list[HighlightPart] | None = None
    highlightedSummary: list[HighlightPart] | None = None
    score: float | None = None


class TrendingScoreOut(_Model):
    """Why a paper trends."""

    score: float
    votesLast24h: int
    starsGained: float
    computedAt: str | None = None


class TrendingItem(DailyItem):
    """One /api/trending item."""

    trending: TrendingScoreOut


class CommentAuthor(_Model):
    """The member who wrote a comment."""

    user: str
    fullname: str


class CommentOut(_Model):
    """A comment (deleted ones are placeholders with empty text)."""

    id: int
    paperId: str
    author: CommentAuthor
    text: str
    createdAt: str | None = None
    editedAt: str | None = None
    deleted: bool


class LinkedRepos(_Model):
    """Models, datasets and Spaces that cite a paper (empty until `paperfeed hub-links` asked the Hub)."""

    models: list[dict[str, Any]]
    datasets: list[dict[str, Any]]
    spaces: list[dict[str, Any]]


class SignInRequired(_Model):
    """A member-only resource asked for without a session."""

    error: str
    login: str


# Response models by route name; routes not named here answer a JSON object.
MODELS: dict[str, Any] = {
    "api_daily_papers": list[DailyItem],
    "api_papers_search": list[SearchItem],
    "api_papers_list": list[HubPaper],
    "api_papers_similar": list[SearchItem],
    "api_trending": list[TrendingItem],
    "api_comments": list[CommentOut],
    "api_paper": HubPaperDetail,
    "api_arxiv_repos": LinkedRepos,
}

_ERROR = {"model": ApiError}
# Every JSON route may answer these: bad parameters, no such thing, too many requests.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "A parameter is malformed; the message says what is expected"},
    404: {**_ERROR, "description": "No such paper or resource"},
    429: {**_ERROR, "description": "Too many requests: retry after the Retry-After seconds"},
}
# Extra answers of some routes.
EXTRA_ERRORS: dict[str, dict[int | str, dict[str, Any]]] = {
    "api_papers_search": {503: {**_ERROR, "description": "Search index not built yet"}},
    "api_papers_similar": {503: {**_ERROR, "description": "Search index not built yet"}},
    "api_for_you": {401: {"model": SignInRequired, "description": "Sign in first"}},
    "api_library": {401: {"model": SignInRequired, "description": "Sign in first"}},
    "api_library_similar": {401: {"model": SignInRequired, "description": "Sign in first"}},
    "api_library_collection": {401: {"model": SignInRequired, "description": "Sign in first"}},
    "api_admin_status": {
        401: {"model": SignInRequired, "description": "Sign in first"},
        403: {**_ERROR, "description": "Admins only"},
    },
}


def openapi_without_422(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without FastAPI's default 422 answers: invalid parameters get 400 here."""
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            op.get("responses", {}).pop("422", None)
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return schema
