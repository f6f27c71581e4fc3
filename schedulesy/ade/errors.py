"""What can go wrong talking to ADE, as one exception family.

ADE answers HTTP 200 even on errors, with ``<error name="<Java class>" trace="…"/>``. Two kinds
matter to a caller: *session* errors (dead or unknown session, no project selected — ADE reports
some of these as a bare ``java.lang.NullPointerException``), cured by logging in again, and
*business* errors (not found, invalid login), which a retry cannot cure. Following docs/ade.md
§1.6, a name that does not look like a business error is treated as a session error.
"""

from __future__ import annotations

BUSINESS_ERROR_MARKERS = ("NotFound", "InvalidLogin", "IllegalArgument", "NumberFormat", "Invalid", "Denied",
                          "Forbidden", "Right")


class AdeError(Exception):
    """Any failure of an ADE call. ``function`` names the Web API function."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(f"ADE {function}: {message}")
        self.function = function
        self.message = message


class AdeUnavailable(AdeError):
    """ADE could not be reached, timed out, or answered 5xx, after every retry."""


class AdeUnreachable(AdeUnavailable):
    """No connection could be made (refused, unknown host, TLS handshake): not retried, since the
    next attempt would meet the same wall, and every later call of the client fails at once until
    :meth:`~schedulesy.ade.client.AdeClient.reset_reachability`."""


class AdeProtocolError(AdeError):
    """An answer we cannot read: not XML, an unexpected root, a missing attribute."""


class AdeEmptyAnswer(AdeError):
    """HTTP 200 with an empty body: an unknown function, or a session ADE silently dropped."""


class AdeAnswerError(AdeError):
    """An ``<error name trace>`` answer."""

    def __init__(self, function: str, name: str, trace: str) -> None:
        short_trace = trace.strip().splitlines()[0][:300] if trace.strip() else ""
        super().__init__(function, f"{name or 'error'}: {short_trace}".rstrip(": "))
        self.name = name
        self.trace = trace


class AdeSessionError(AdeAnswerError):
    """The session is dead, unknown or has no project: logging in again should cure it."""


class AdeBusinessError(AdeAnswerError):
    """ADE refused the request itself (not found, bad parameter): retrying will not help."""


class AdeLoginError(AdeBusinessError):
    """``connect`` refused the login or password (``com.adesoft.errors.InvalidLogin``)."""


def classify_error(function: str, name: str, trace: str) -> AdeAnswerError:
    if "InvalidLogin" in name:
        return AdeLoginError(function, name, trace)
    short = name.rsplit(".", 1)[-1]
    if "Session" in short or short == "NullPointerException":
        return AdeSessionError(function, name, trace)
    if any(marker in short for marker in BUSINESS_ERROR_MARKERS):
        return AdeBusinessError(function, name, trace)
    return AdeSessionError(function, name, trace)
