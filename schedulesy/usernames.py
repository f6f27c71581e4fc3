"""What a username (a login) is: one rule for tokens, paths and bodies, plus one column limit.

The rule (docs/compatibility.md §2.1): a string that is not blank, at most :data:`MAX_LENGTH`
characters, without slashes and without any character of Unicode category C (control characters
such as NUL, format characters, lone surrogates, private use, unassigned). A token naming anything
else is refused.

The limit: ``w_edtperso.uid`` is ``varchar(32)``. A longer username is still a user (their token
works: trees, events, the instructor search), but no customization can ever be theirs — nor the
calendar, feed or accesses that hang off one. So creating one is a 400 and looking one up a 404
(:func:`may_own_customization`), never a 403.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 150
"""What any directory allows."""

UID_LENGTH = 32
"""``w_edtperso.uid`` is ``varchar(32)``."""

_ALLOWED = r"[^/\\\u0000-\u001f\u007f-\u009f]"
_ALLOWED_NOT_SPACE = r"[^\s/\\\u0000-\u001f\u007f-\u009f]"
PATTERN = rf"^{_ALLOWED}*{_ALLOWED_NOT_SPACE}{_ALLOWED}*$"
"""The rule as a JSON Schema pattern, for the OpenAPI description; it cannot name Unicode's other
category-C characters (format, surrogates, private use, unassigned), which :func:`is_username`
refuses too."""


def is_username(text: str) -> bool:
    """The one username rule."""
    return (
        bool(text.strip())
        and len(text) <= MAX_LENGTH
        and not any(unicodedata.category(ch).startswith("C") or ch in "/\\" for ch in text)
    )


def may_own_customization(username: str) -> bool:
    """A username that fits ``w_edtperso.uid``: the only ones a customization can belong to."""
    return len(username) <= UID_LENGTH and is_username(username)
