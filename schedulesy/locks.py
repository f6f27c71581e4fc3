"""Every Postgres advisory lock id of Schedulesy. Nothing else in the code base types one.

==================  ==========================  ===============================  =================================
lock                key, held until             taken by                         so that
==================  ==========================  ===============================  =================================
MIGRATION           id; unlocked                ``schedulesy migrate``           one migrator at a time (replicas
                                                (``schedulesy.db.migrate``)      starting together)
ADE_SYNC            id; unlocked                an ADE sync cycle                one sync runner across every
                                                (``commands.ade_sync.cycle``)    worker; the others skip the cycle
ALERTS_LEADER       id; session end             the alert mailer's connection    one worker builds and sends the
                                                (``commands.alerts.runner``)     alert mails
PROJECTOR_LEADER    (class, projection);        the projector's listening        one leader per projection; a
                    session end                 connection (``projections.       standby takes over when the
                                                changelog.try_lead``)            leader's session dies
USER                (class, username);          every command about one login    commands about one login run one
                    commit                      (``commands.common.lock_user``)  after the other
DIRECTORY_ID        (class, directory id);      a create claiming a directory    two creates cannot claim one
                    commit                      id (``commands.common``)         directory id at once
SYNC_RUN            (class, run id);            the API process running an       its outcome can tell a run in
                    session end                 admin sync (``commands.admin``)  flight from one whose process
                                                                                 stopped
==================  ==========================  ===============================  =================================

Why they cannot collide: Postgres keeps the locks named by one ``bigint`` (:class:`LockId`) apart
from those named by two ``integer`` keys (:class:`LockClass`, then ``hashtext`` of a name) —
``pg_locks.objsubid`` is 1 for the former, 2 for the latter — so an id never meets a class. The ids
are distinct, and so are the classes (``enum.unique`` refuses a repeated value at import), so one
class's locks never meet another's whatever the names hash to. Two names of one class that hash
alike share a lock: they wait for each other, they never run unprotected.
"""

from __future__ import annotations

import enum


@enum.unique
class LockId(enum.IntEnum):
    """A lock named by one ``bigint``: ``pg_advisory_lock(id)``."""

    MIGRATION = 0x5C_4E_D0_1E
    ADE_SYNC = 0x5C_AD_E5_1C
    ALERTS_LEADER = 0x5C_A1_E7_5E


@enum.unique
class LockClass(enum.IntEnum):
    """The first of two ``integer`` keys: ``pg_advisory_lock(class, hashtext(name))``, one lock per name."""

    PROJECTOR_LEADER = 0x5C4E_D01F
    USER = 0x5C4E_0C05
    DIRECTORY_ID = 0x5C4E_0D1D
    SYNC_RUN = 0x5C4E_5E1C
