"""The HTML pages' and JSON API's view of the feed: the service layer's period and paper reads,
under the names the handlers use, and the typed paging parameters of the JSON list routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from paperfeed.service import papers, periods

MAX_API_LIMIT = periods.MAX_API_LIMIT
BadRequest = periods.BadRequest
InvalidPeriod = periods.InvalidPeriod
Period = periods.Period
day_period = periods.day_period
week_period = periods.week_period
month_period = periods.month_period
parse_day = periods.parse_day
parse_week = periods.parse_week
parse_month = periods.parse_month
parse_page = periods.parse_page
parse_limit = periods.parse_limit
CanonicalRedirect = papers.CanonicalRedirect
FeedView = papers.FeedView
PaperView = papers.PaperView
feed_view = papers.feed_view
latest_period = papers.latest_period
latest_view = papers.latest_view
newest_items = papers.newest_items
paper_view = papers.paper_view
resolve_id = papers.resolve_id

# Typed paging parameters of the JSON list routes: FastAPI checks them and documents them.
Page = Annotated[int, Query(ge=0, le=999_999, description="Page number, from 0")]
Limit = Annotated[int, Query(ge=1, le=MAX_API_LIMIT, description="Items per page")]
