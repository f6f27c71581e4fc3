"""The errors the simulated Web API answers with, named by the Java classes real ADE reports.

Every error is HTTP 200 with ``<error name=… trace=…/>``; the names are the contract with clients:

- ``com.adesoft.errors.InvalidLogin`` — wrong credentials or data token;
- ``com.adesoft.errors.InvalidSessionException`` — missing, unknown, expired or disconnected session
  (sessions expire after ``session_ttl`` idle seconds, 30 min by default);
- ``java.lang.NullPointerException`` — no project set on the session (SCH's special case);
- ``com.adesoft.errors.ProjectNotFoundException`` — setProject / projectId on an unknown project;
- ``java.lang.NumberFormatException``, ``java.text.ParseException`` — malformed numbers or dates;
- ``com.adesoft.errors.NotFoundException`` — getCosts with an id.

The client has its own exception family (``schedulesy.ade.errors``); this one is deliberately
separate and named differently, because it is raised *inside* the simulated server to pick the
answer, not caught by a caller.
"""

from __future__ import annotations

from typing import Final

INVALID_LOGIN: Final = "com.adesoft.errors.InvalidLogin"
SESSION_ERROR: Final = "com.adesoft.errors.InvalidSessionException"
NULL_POINTER: Final = "java.lang.NullPointerException"
"""What ADE answers when the session has no project (and a common injected fault)."""
PROJECT_NOT_FOUND: Final = "com.adesoft.errors.ProjectNotFoundException"
NUMBER_FORMAT: Final = "java.lang.NumberFormatException"
PARSE_ERROR: Final = "java.text.ParseException"
NOT_FOUND: Final = "com.adesoft.errors.NotFoundException"


class ErrorAnswer(Exception):
    """Raised by a Web API function: the app answers ``<error name=… trace=…/>`` instead."""

    def __init__(self, name: str, trace: str) -> None:
        super().__init__(f"{name}: {trace}")
        self.name, self.trace = name, trace
