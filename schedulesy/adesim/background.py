"""Run the simulator in a background thread over real HTTP (the tests' fixtures).

uvicorn (a test dependency) is used here rather than granian: it runs inside a thread of the current
process, so tests can also look at the simulator object directly, and it binds an already-open
socket, so port 0 gives a free port without races.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from schedulesy.adesim.app import WEBAPI_PATH, SimulatorApp

if TYPE_CHECKING:
    import uvicorn


@dataclasses.dataclass
class RunningSimulator:
    """A simulator served on ``base_url``; ``stop()`` shuts it down."""

    app: SimulatorApp
    host: str
    port: int
    server: uvicorn.Server = dataclasses.field(repr=False)
    thread: threading.Thread = dataclasses.field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + WEBAPI_PATH

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def run_in_thread(app: SimulatorApp, host: str = "127.0.0.1", port: int = 0, *,
                  timeout: float = 10.0) -> RunningSimulator:
    """Start serving ``app`` and return once the server accepts connections."""
    import uvicorn

    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every answer (headers, then body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off", timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="ade-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the ADE simulator did not start")
        time.sleep(0.01)
    return RunningSimulator(app=app, host=host, port=sock.getsockname()[1], server=server, thread=thread)
