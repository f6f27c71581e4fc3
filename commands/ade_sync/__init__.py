"""The ADE → Postgres sync, the only writer of the ADE mirror and of ``sync_state``.

:mod:`~commands.ade_sync.cycle` plans and runs one cycle: the category trees
(:mod:`~commands.ade_sync.trees`, rooms located by :mod:`~commands.ade_sync.buildings`), then the
events (:mod:`~commands.ade_sync.events` over :mod:`~commands.ade_sync.windows`, written by
:mod:`~commands.ade_sync.writes`, timetables derived by :mod:`~commands.ade_sync.timetables`); what it
did is one :class:`~commands.ade_sync.report.SyncReport`. :mod:`~commands.ade_sync.poller` runs cycles
inside ``schedulesy worker``; :mod:`~commands.ade_sync.cli` is ``schedulesy sync``.
"""
