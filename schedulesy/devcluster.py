"""A local Redis Cluster (3 masters, 3 replicas) from the ``redis-server`` binary, for tests and
benchmarks: :class:`LocalCluster` starts the six servers on free ports in a temporary directory,
joins them with ``redis-cli --cluster create``, and removes everything when stopped. Not for
production: a real cluster spreads its nodes over machines (see docs/operations.md).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MASTERS = 3
NODE_TIMEOUT_MS = 1000
"""How long a silent master goes before its replica takes over (``cluster-node-timeout``)."""
START_SECONDS = 30.0


def cluster_binaries() -> tuple[str, str] | None:
    """(redis-server, redis-cli) when both are installed."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, cli) if server and cli else None


def _free_port_pair() -> int:
    """A port free for clients whose cluster-bus port (+10000) is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class LocalCluster:
    """Six ``redis-server`` processes forming a cluster; :attr:`url` names one of its masters."""

    def __init__(self, server: str, cli: str) -> None:
        self.server, self.cli = server, cli
        self.directory = Path(tempfile.mkdtemp(prefix="schedulesy-cluster-"))
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.ports: list[int] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    @property
    def seeds(self) -> str:
        """Every node, comma-separated: what an operator would configure."""
        return ",".join(f"redis://127.0.0.1:{port}/0" for port in self.ports)

    def start(self) -> LocalCluster:
        try:
            for _ in range(2 * MASTERS):
                self.ports.append(port := _free_port_pair())
                self._start_node(port)
            self._wait(lambda: all(self._cli(p, "PING") == "PONG" for p in self.ports), "every node to answer")
            subprocess.run(
                [self.cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                 "--cluster-replicas", "1", "--cluster-yes"],
                check=True, capture_output=True, timeout=START_SECONDS,
            )
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, port: int) -> None:
        log = open(self.directory / f"{port}.log", "wb")  # noqa: SIM115 (owned by the process)
        self.processes[port] = subprocess.Popen(
            [self.server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
             "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--cluster-require-full-coverage", "no",
             "--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    def _cli(self, port: int, *command: str) -> str:
        result = subprocess.run([self.cli, "-p", str(port), *command], capture_output=True, timeout=5)
        return result.stdout.decode().strip()

    def _wait(self, ready: Callable[[], bool], what: str, seconds: float = START_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                if ready():
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the local Redis Cluster: waited {seconds:g} s for {what}")

    def alive(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def roles(self) -> dict[int, str]:
        """``master`` or ``slave`` by live node port."""
        return {p: (self._cli(p, "ROLE").splitlines() or ["?"])[0] for p in self.alive()}

    def replica_of(self, master: int) -> int:
        """The port of a live replica of the master on ``master``."""
        for port, role in self.roles().items():
            if role == "slave" and int(self._cli(port, "ROLE").splitlines()[2]) == master:
                return port
        raise RuntimeError(f"the master on {master} has no live replica")

    def fail_over(self, replica: int) -> None:
        """A manual failover (``CLUSTER FAILOVER``): the replica takes over, its master lives on as
        a replica of it."""
        assert self._cli(replica, "CLUSTER", "FAILOVER") == "OK"

    def master_of(self, key: str) -> int:
        """The port of the master holding ``key``'s slot now."""
        slot = int(self._cli(self.alive()[0], "CLUSTER", "KEYSLOT", key))
        for port in self.alive():
            if self._cli(port, "ROLE").splitlines()[:1] != ["master"]:
                continue
            for line in self._cli(port, "CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" not in fields[2]:
                    continue
                for span in fields[8:]:
                    low, _, high = span.partition("-")
                    if low.isdigit() and int(low) <= slot <= int(high or low):
                        return port
        raise RuntimeError(f"no live master holds slot {slot}")

    def healthy(self) -> bool:
        """Every live node says the cluster is ok, 3 live masters cover every slot, and every live
        replica is in sync with its master."""
        alive = self.alive()
        if not all("cluster_state:ok" in self._cli(p, "CLUSTER", "INFO") for p in alive):
            return False
        roles = self.roles()
        masters = [p for p, role in roles.items() if role == "master"]
        replicas = [p for p, role in roles.items() if role == "slave"]
        return len(masters) == MASTERS and all(
            "master_link_status:up" in self._cli(p, "INFO", "replication") for p in replicas
        ) and all(
            self._cli(p, "CLUSTER", "NODES").count("slave") == len(replicas) for p in alive
        )

    def wait_healthy(self, seconds: float = START_SECONDS) -> None:
        self._wait(self.healthy, "every slot to be served")

    def kill(self, port: int) -> None:
        """SIGKILL one node (no goodbye to the cluster: a crash)."""
        process = self.processes[port]
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)
