"""E-mail alerts of timetable changes (docs/changes.md §3).

- :mod:`.subscriptions` — the owner's opt-in (``PUT …/notifications.json``), confirmation, unsubscription;
- :mod:`.mail` — the messages, French or English, with their unsubscribe headers;
- :mod:`.outbox` — coalesced alerts built into the Postgres outbox, and the outbox sent over SMTP;
- :mod:`.runner` — the worker's loop: one leader builds and sends.
"""
