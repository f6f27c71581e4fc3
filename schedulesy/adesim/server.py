"""``schedulesy ade-simulator``: generate a university and serve it with granian until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

from granian.constants import Interfaces
from granian.server.embed import Server

from schedulesy.adesim.app import WEBAPI_PATH, create_app
from schedulesy.adesim.generate import generate


def serve(host: str, port: int, preset: str, seed: int, slot_minutes: int = 15) -> None:
    started = time.perf_counter()
    university = generate(preset, seed, slot_minutes=slot_minutes)
    app = create_app(university)
    sim, p = app.simulator, university.project
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(f"ADE simulator: preset {preset!r}, seed {seed}, {len(university.resources)} resources, "
          f"{len(university.events)} events (generated in {time.perf_counter() - started:.1f} s)", flush=True)
    print(f"  URL:        http://{shown}:{port}{WEBAPI_PATH}\n"
          f"  login:      {sim.login}\n  password:   {sim.password}\n  project id: {p.id} ({p.name}, "
          f"week 0 = {p.week0.isoformat()}, {p.slot_minutes}-minute slots)\n"
          f"  admin API:  http://{shown}:{port}/admin/project", flush=True)
    server = Server(app, address=host, port=port, interface=Interfaces.ASGI)

    async def run() -> None:
        # The embedded server installs no signal handlers: stop it cleanly on Ctrl+C / SIGTERM.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stop)
        await server.serve()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
