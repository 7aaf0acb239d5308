"""Pydantic models of the JSON API's responses, for the OpenAPI document (Hub field names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from paperfeed.normalize import strip_invalid
from paperfeed.store.library import NAME_MAX as COLLECTION_NAME_MAX


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
    # --- bio: the extension for bioRxiv/medRxiv papers (docs/biorxiv.md) ---
    source: Literal["biorxiv", "medrxiv"] | None = Field(
        None,
        description="paperfeed extension: only on bioRxiv/medRxiv papers, whose id is a DOI "
        "(10.1101/...) and whose `arxiv` object holds the server's version, category, journal "
        "DOI, licence and links; absent on arXiv papers, which answer exactly as the Hub's",
    )


class Identity(_Model):
    """One identity of a paper (paperfeed extension): its kind and value."""

    kind: Literal["arxiv", "biorxiv", "medrxiv", "journal"]
    value: str


class CategoryOut(_Model):
    """One browsable category with the number of visible papers in it."""

    category: str = Field(description="e.g. cs.CL, biorxiv.cell-biology")
    label: str
    count: int
    feedUrl: str = Field(description="the latest day of this category, ?cat=")


class SourceCategoriesOut(_Model):
    """One source's categories: every listed one for bioRxiv/medRxiv, those in use for arXiv."""

    source: Literal["arxiv", "biorxiv", "medrxiv"]
    name: str
    total: int
    categories: list[CategoryOut]


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
    identities: list[Identity] | None = Field(
        None,
        description="paperfeed extension: every identity (arXiv id, bioRxiv/medRxiv DOI, "
        "journal DOI) when the paper has more than one",
    )


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
    """A member-only resource asked for without a session (or with a bad token: no login link)."""

    error: str
    login: str | None = None


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
    "api_categories": list[SourceCategoriesOut],  # bio
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


# --- tokens and the write API: request bodies and answers ---------------------------------------


class _Body(BaseModel):
    # Unknown keys are refused (400) so a misspelt field is not silently ignored.
    model_config = ConfigDict(extra="forbid")


# Body text loses what no stored text may hold (NUL, controls), as form fields do.
Text = Annotated[str, AfterValidator(strip_invalid)]
# A row id in JSON: at most 2**53 - 1, the largest integer every JSON client reads exactly
# (a bound of 10**18 - 1 reached the server as 10**18 through a float), well inside BIGINT.
RowId = Annotated[int, Field(ge=1, le=2**53 - 1)]
# Holds something besides white space and control characters (which are dropped).
_NOT_BLANK = r"[^\s\x00-\x1f\x7f-\x9f]"


class SubmitIn(_Body):
    """Feature a paper on today's feed (the Hub's POST /api/papers/submit)."""

    paperId: Text = Field(min_length=1, max_length=300, description="arXiv id or abs URL")
    comment: Text | None = Field(None, description="posted as the submitter's first comment")


class IndexIn(_Body):
    """Give an arXiv paper its page here without featuring it (the Hub's POST /api/papers/index)."""

    arxivId: Text = Field(min_length=1, max_length=300)


class CommentIn(_Body):
    """The text of a new or edited comment."""

    text: Text = Field(pattern=_NOT_BLANK)


class SaveIn(_Body):
    """Save a paper into collections (by id), a new collection, or the default one."""

    paperId: Text = Field(max_length=300)
    collections: list[RowId] = Field(default_factory=list, max_length=100)
    newCollection: Text = ""


class UnsaveIn(_Body):
    """Take a paper out of one collection, or out of the whole library without collectionId."""

    paperId: Text = Field(max_length=300)
    collectionId: RowId | None = None


class PaperIn(_Body):
    """A paper to hide, unhide, or add to a collection."""

    paperId: Text = Field(max_length=300)


class CollectionIn(_Body):
    """A new collection's name."""

    name: Text = Field(pattern=_NOT_BLANK, max_length=COLLECTION_NAME_MAX)


class SubmitOut(_Model):
    """The paper now on today's feed, and the comment posted with it."""

    id: str
    title: str
    comment: CommentOut | None = None


class IndexOut(_Model):
    """The paper's id and title; created is false when it was here already."""

    id: str
    title: str
    created: bool


class VoteOut(_Model):
    """A paper's upvotes after the request, and whether the member's upvote stands."""

    id: str
    upvotes: int
    voted: bool


class DeletedOut(_Model):
    """What was deleted."""

    id: int
    deleted: bool


class SavedOut(_Model):
    """A saved paper: placements added and every collection it is now in."""

    id: str
    added: int
    collections: list[int]


class UnsavedOut(_Model):
    """How many placements of the paper went."""

    id: str
    removed: int


class HiddenOut(_Model):
    """Whether the paper is now kept out of the member's recommendations."""

    id: str
    hidden: bool


class CollectionOut(_Model):
    """One collection and its size."""

    id: int
    name: str
    size: int
    created_at: str


class CollectionPapers(CollectionOut):
    """One collection with its paper ids, newest saved first."""

    papers: list[str]


class MyLibrary(_Model):
    """Every collection with its papers, and the papers marked not interested."""

    collections: list[CollectionPapers]
    hidden: list[str]


class TokenOut(_Model):
    """The token a request came with."""

    id: int
    scope: Literal["read", "write"]


class MeOut(_Model):
    """The acting member (and the token, for bearer requests)."""

    id: int
    user: str
    fullname: str
    role: str
    verified: bool
    token: TokenOut | None = None


MODELS.update(
    {
        "api_me": MeOut,
        "api_me_library": MyLibrary,
        "api_submit": SubmitOut,
        "api_index": IndexOut,
        "api_upvote": VoteOut,
        "api_upvote_delete": VoteOut,
        "api_comment_add": CommentOut,
        "api_comment_edit": CommentOut,
        "api_comment_delete": DeletedOut,
        "api_library_save": SavedOut,
        "api_library_unsave": UnsavedOut,
        "api_library_hide": HiddenOut,
        "api_library_unhide": HiddenOut,
        "api_collection_create": CollectionOut,
        "api_collection_add": SavedOut,
        "api_collection_remove": UnsavedOut,
        "api_collection_delete": DeletedOut,
    }
)
_SIGN_IN: dict[str, Any] = {
    "model": SignInRequired,
    "description": "No session or token, or a bad token",
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _SIGN_IN,
    403: {
        **_ERROR,
        "description": "Not allowed (a token of another scope, an unconfirmed address)",
    },
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_READ_ERRORS,
    403: {**_ERROR, "description": "A read token, a missing CSRF header, or a rule forbids it"},
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {**_ERROR, "description": "Already done (submitted, featured, name taken)"}
}
_UPSTREAM: dict[int | str, dict[str, Any]] = {
    502: {**_ERROR, "description": "arXiv did not answer: retry later"}
}
EXTRA_ERRORS.update(
    {
        "api_me": _READ_ERRORS,
        "api_me_library": _READ_ERRORS,
        "api_submit": {**_WRITE_ERRORS, **_CONFLICT, **_UPSTREAM},
        "api_index": {**_WRITE_ERRORS, **_UPSTREAM},
        "api_collection_create": {**_WRITE_ERRORS, **_CONFLICT},
        **{
            name: _WRITE_ERRORS
            for name in (
                "api_upvote",
                "api_upvote_delete",
                "api_comment_add",
                "api_comment_edit",
                "api_comment_delete",
                "api_library_save",
                "api_library_unsave",
                "api_library_hide",
                "api_library_unhide",
                "api_collection_add",
                "api_collection_remove",
                "api_collection_delete",
            )
        },
    }
)


def openapi_without_422(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without FastAPI's default 422 answers: invalid parameters get 400 here."""
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            op.get("responses", {}).pop("422", None)
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return schema


# --- follows in the JSON API (docs/follow.md) ----------------------------------------------------


class FollowIn(_Body):
    """Follow an author, organization, category, saved search, collection or a paper's versions."""

    kind: Literal["author", "org", "category", "search", "collection", "paper_version"]
    target: Text = Field(
        pattern=_NOT_BLANK,
        max_length=400,
        description="the name, category, search text, collection name or paper id to follow",
    )
    mode: Literal["keywords", "meaning"] = Field(
        "keywords", description="for a saved search: match its words, or papers like it"
    )


class FollowOut(_Model):
    """One thing the member follows."""

    id: int
    kind: str
    target: str
    label: str
    mode: Literal["keywords", "meaning"] | None = None
    created_at: str | None = None


MODELS.update(
    {
        "api_me_follows": list[FollowOut],
        "api_follow_create": FollowOut,
        "api_follow_delete": DeletedOut,
    }
)
EXTRA_ERRORS.update(
    {
        "api_me_follows": _READ_ERRORS,
        "api_follow_create": {
            **_WRITE_ERRORS,
            200: {"model": FollowOut, "description": "Already followed: the existing follow"},
            404: {**_ERROR, "description": "Nothing of that kind and name to follow here"},
        },
        "api_follow_delete": _WRITE_ERRORS,
    }
)
