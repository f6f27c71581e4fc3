"""Small documents that resolve a user or an access key to the selection whose calendar they read.

Calendars and feeds are keyed by the selection's hash (users with the same selection share them);
these documents are the one hop from a name to that hash.
"""

from __future__ import annotations

import msgspec

from projections.builders.document import JSON, Built
from projections.rows import AccessRow, UserRow
from schedulesy.selection import Selection


class UserSelection(msgspec.Struct, frozen=True):
    """``keys.user(username)``: what the user selected (normalised) and its calendar's name."""

    username: str
    resources: tuple[str, ...]
    selection_hash: str
    customization_id: int

    @property
    def selection(self) -> Selection:
        return Selection.of(self.resources)


class AccessGrant(msgspec.Struct, frozen=True):
    """``keys.access(key)``: whose timetable a capability key opens; gone once revoked."""

    key: str
    username: str
    name: str
    resources: tuple[str, ...]
    selection_hash: str

    @property
    def selection(self) -> Selection:
        return Selection.of(self.resources)


_ENCODER = msgspec.json.Encoder()
_USER_DECODER = msgspec.json.Decoder(UserSelection)
_ACCESS_DECODER = msgspec.json.Decoder(AccessGrant)

def user_selection(user: UserRow) -> UserSelection:
    return UserSelection(user.username, user.selection.ids, user.selection.hash, user.customization_id)


def build_user(user: UserRow) -> Built:
    return Built(_ENCODER.encode(user_selection(user)), JSON)


def access_grant(access: AccessRow, user: UserRow) -> AccessGrant:
    return AccessGrant(access.key, access.username, access.name, user.selection.ids, user.selection.hash)


def build_access(access: AccessRow, user: UserRow | None) -> Built | None:
    """None (no document: the key answers 404) when the owner has no legacy row — their row was
    deleted or their uid renamed by another tool. An empty feed would make calendar clients
    delete every event they hold."""
    if user is None:
        return None
    return Built(_ENCODER.encode(access_grant(access, user)), JSON)


def decode_user(body: bytes) -> UserSelection:
    return _USER_DECODER.decode(body)


def decode_access(body: bytes) -> AccessGrant:
    return _ACCESS_DECODER.decode(body)
