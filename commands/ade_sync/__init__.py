"""The ADE → Postgres sync, the only writer of the ADE mirror; :mod:`commands.ade_sync.cycle` runs one cycle."""
