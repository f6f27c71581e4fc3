"""The one username rule and the one column limit (``schedulesy.usernames``)."""

from __future__ import annotations

import pytest

from schedulesy.usernames import is_username, may_own_customization


@pytest.mark.parametrize("username", ["jdupont", "jean.dupont", "jean.dupont@unistra.fr", "Müller", "x" * 150])
def test_what_a_username_is(username: str) -> None:
    assert is_username(username)


@pytest.mark.parametrize("username", ["", "  ", "a/b", "a\\b", "a\x00b", "a\x01b", "a\u200bb", "\ud800", "x" * 151])
def test_what_a_username_is_not(username: str) -> None:
    assert not is_username(username)


def test_only_usernames_that_fit_the_uid_column_may_own_a_customization() -> None:
    assert may_own_customization("x" * 32)
    assert is_username("x" * 33) and not may_own_customization("x" * 33)
    assert not may_own_customization("a/b")
