"""The worker's consumer of ADE's change messages on RabbitMQ (on when ``SCHEDULESY_AMQP_URL`` is set).

It declares the original's names (a durable topic exchange, a durable queue bound with the routing
key; all four are settings), so several workers share one queue and RabbitMQ hands each message to
exactly one of them. A burst is coalesced — the messages that arrive within :data:`COALESCE_SECONDS` of
the first, up to :data:`MAX_BURST` — and refreshed as one (:func:`commands.ade_sync.refresh.refresh_named`);
its messages are acknowledged only once that refresh is committed. When the refresh fails (ADE or
Postgres down) they go back to the queue after a pause. An invalid message is logged once, counted
and dropped (rejected without requeue); it never stops the consumer.

The broker down, restarting or closing the channel: the consumer reconnects with backoff (1 s
doubling to a minute), while the poller goes on as if there were no messages at all. While it
consumes, it writes a heartbeat: with it, the poller lets the feed lead (:mod:`commands.ade_sync.feed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import aio_pika
import structlog
import yarl
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from commands.ade_sync.feed import HEARTBEAT_SECONDS, heartbeat
from commands.ade_sync.messages import ChangeMessage, InvalidMessage, merge, parse_message
from commands.ade_sync.refresh import RefreshReport, refresh_named
from commands.ade_sync.report import add_figures
from schedulesy import syncstate
from schedulesy.ade.client import AdeClient
from schedulesy.services import Services, open_services
from schedulesy.settings import Settings

log = structlog.get_logger(__name__)

COALESCE_SECONDS = 0.1
MAX_BURST = 500
PREFETCH = 1000
"""Unacknowledged messages the broker may hand this consumer (a burst, and the next one arriving)."""
CONNECT_TIMEOUT_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 60.0
RETRY_PAUSE_SECONDS = 5.0
"""Pause before a burst whose refresh failed goes back to the queue (it would fail again at once)."""


def broker_name(url: str) -> str:
    """``host:port/vhost`` of an AMQP URL: the password never reaches a log line."""
    parsed = yarl.URL(url)
    return f"{parsed.host}:{parsed.port or 5672}{parsed.path if parsed.path not in ('', '/') else ''}"


def backoff(failures: int, rng: random.Random | None = None) -> float:
    base = min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, failures - 1))
    return base * (rng or random).uniform(0.8, 1.2)


class ChangeFeed:
    """One consumer. ``on_refresh`` (tests, the bench) hears each committed refresh with its messages."""

    def __init__(self, services: Services, ade: AdeClient, *, coalesce: float = COALESCE_SECONDS,
                 retry_pause: float = RETRY_PAUSE_SECONDS, heartbeat_every: float = HEARTBEAT_SECONDS,
                 backoff: Callable[[int], float] = backoff,
                 on_refresh: Callable[[list[ChangeMessage], RefreshReport], None] | None = None) -> None:
        self.services = services
        self.settings = services.settings
        self.ade = ade
        self.coalesce = coalesce
        self.retry_pause = retry_pause
        self.heartbeat_every = heartbeat_every
        self.failing = False
        """The last refresh failed: no heartbeat until one succeeds."""
        self.backoff = backoff
        self.on_refresh = on_refresh
        self.connections = 0
        self.ready = asyncio.Event()
        """Set while consuming (cleared when the broker is lost)."""

    async def run(self) -> None:
        """Consume until cancelled, reconnecting whenever the broker goes away."""
        failures = 0
        where = broker_name(self.settings.amqp_url)
        while True:
            try:
                connection = await aio_pika.connect(self.settings.amqp_url, timeout=CONNECT_TIMEOUT_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, DNS, handshake, timeout, bad credentials
                failures += 1
                delay = self.backoff(failures)
                log.warning("amqp broker unreachable; retrying", broker=where, error=_describe(exc),
                            retry_in=round(delay, 1))
                await asyncio.sleep(delay)
                continue
            self.connections += 1
            try:
                await self._consume(connection)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("amqp consumer lost the broker; reconnecting", broker=where, error=_describe(exc))
            finally:
                self.ready.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 5)
            failures += 1
            await asyncio.sleep(self.backoff(failures))

    async def _consume(self, connection: AbstractConnection) -> None:
        channel: AbstractChannel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        exchange = await channel.declare_exchange(self.settings.amqp_exchange, aio_pika.ExchangeType.TOPIC,
                                                  durable=True)
        queue = await channel.declare_queue(self.settings.amqp_queue, durable=True)
        await queue.bind(exchange, self.settings.amqp_routing_key)
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        await queue.consume(inbox.put)
        log.info("amqp consumer ready", broker=broker_name(self.settings.amqp_url),
                 exchange=self.settings.amqp_exchange, queue=self.settings.amqp_queue,
                 routing_key=self.settings.amqp_routing_key)
        self.ready.set()
        worker = asyncio.create_task(self._process(inbox))
        beat = asyncio.create_task(self._beat())
        lost = [asyncio.ensure_future(connection.closed()), asyncio.ensure_future(channel.closed())]
        try:
            done, _ = await asyncio.wait([worker, *lost], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (worker, beat, *lost):
                task.cancel()
            await asyncio.gather(worker, beat, *lost, return_exceptions=True)
        if worker in done:
            worker.result()
        raise ConnectionError("the broker closed the channel")

    async def _beat(self) -> None:
        """While consuming and applying messages: tell the poller the feed is up
        (:func:`commands.ade_sync.feed.heartbeat`). The first beat of a connection restarts the feed's
        baseline; no beat while refreshes fail (a feed whose messages are not applied must not lead)."""
        connected = True
        while True:
            if not self.failing:
                try:
                    await heartbeat(self.services.pool, connected=connected)
                    connected = False
                except Exception as exc:  # Postgres away: the poller will see a stale feed and poll as usual
                    log.warning("amqp consumer heartbeat not recorded", error=_describe(exc))
            await asyncio.sleep(self.heartbeat_every)

    async def _process(self, inbox: asyncio.Queue[AbstractIncomingMessage]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            burst = [await inbox.get()]
            deadline = loop.time() + self.coalesce
            while len(burst) < MAX_BURST:
                if not inbox.empty():
                    burst.append(inbox.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    burst.append(await asyncio.wait_for(inbox.get(), left))
                except TimeoutError:
                    break
            await self._handle(burst)

    async def _handle(self, burst: list[AbstractIncomingMessage]) -> None:
        valid: list[tuple[AbstractIncomingMessage, ChangeMessage]] = []
        invalid = 0
        for message in burst:
            try:
                valid.append((message, parse_message(message.body)))
            except InvalidMessage as exc:
                invalid += 1
                log.warning("amqp message dropped: invalid", reason=str(exc), routing_key=message.routing_key,
                            message_id=message.message_id, bytes=len(message.body))
                await message.reject(requeue=False)
        now = dt.datetime.now(dt.timezone.utc)
        if not valid:
            await add_figures(self.services.pool, syncstate.AMQP, {"invalid_messages": invalid}, at=now)
            return
        parsed = [m for _, m in valid]
        events, resources = merge(parsed)
        try:
            report = await refresh_named(self.services, self.ade, events, resources)
        except Exception as exc:  # ADE or Postgres failing: the messages stay in the queue
            self.failing = True
            log.warning("amqp refresh failed; its messages go back to the queue", error=_describe(exc),
                        messages=len(valid), events=len(events), retry_in=self.retry_pause)
            with contextlib.suppress(Exception):
                await add_figures(self.services.pool, syncstate.AMQP,
                                  {"invalid_messages": invalid, "refresh_failures": 1}, at=now, ok=False,
                                  error=_describe(exc))
            await asyncio.sleep(self.retry_pause)
            for message, _ in valid:
                await message.nack(requeue=True)
            return
        self.failing = False
        for message, _ in valid:
            await message.ack()
        log.info("amqp messages refreshed", messages=len(valid), events=len(events), resources=len(resources),
                 operations=sorted({m.operation_id for m in parsed if m.operation_id})[:5],
                 fetched=report.fetched, changed=report.changed + report.new, deleted=report.deleted,
                 requests=report.requests)
        figures: dict[str, Any] = {"messages": len(valid), "invalid_messages": invalid, "refreshes": 1,
                                   **report.figures()}
        await add_figures(self.services.pool, syncstate.AMQP, figures, at=now)
        if self.on_refresh:
            self.on_refresh(parsed, report)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


async def run_change_feed(settings: Settings) -> None:
    """``schedulesy worker``'s consumer, with its own services and ADE session (the poller has its own)."""
    async with open_services(settings, pool_size=4) as services, AdeClient.from_settings(settings) as ade:
        await ChangeFeed(services, ade).run()
