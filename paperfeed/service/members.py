"""The rules about who may act: a confirmed address to post, the curator role to curate."""

from __future__ import annotations

from paperfeed.errors import PermissionDenied
from paperfeed.models import User


def check_confirmed(user: User) -> User:
    """The member, if their address is confirmed; PermissionDenied otherwise."""
    if not user.verified:
        raise PermissionDenied(
            "confirm your email address first: follow the link we emailed you "
            "(or ask for a new one on the sign-in page)"
        )
    return user


def check_curator(user: User) -> User:
    """The member, if a curator or admin; PermissionDenied otherwise."""
    if not user.is_curator:
        raise PermissionDenied("only curators and admins can feature or hide papers")
    return user
