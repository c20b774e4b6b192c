"""The worker's loop against a scripted RESP server in this process: errors and broken links.

The server answers each request as a test script says — ``+OK``, an error, or
closing the connection — so the worker's bookkeeping can be checked exactly:
error replies counted by prefix and re-issued, a lost connection's
outstanding requests counted as ``CONNECTION`` errors and the connection
re-dialled. Counts are asserted; times are not.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import hiredis
import pytest

from epaxosdb.bench.load import CONNECTION_ERROR, Worker, WorkerResult, WorkerSpec
from epaxosdb.bench.workload import ClientSlot, Workload

SERVER_LIFETIME_S = 30.0

Script = Callable[[int, int], bytes | None]
"""(connection number, request number on it) → reply bytes, or None to close."""


class ScriptedServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        deadline = time.monotonic() + SERVER_LIFETIME_S
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            t = threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True)
            self.connections += 1
            self.threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        reader = hiredis.Reader()
        conn.settimeout(0.1)
        served = 0
        deadline = time.monotonic() + SERVER_LIFETIME_S
        with conn:
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                reader.feed(data)
                out = b""
                while reader.gets() is not False:
                    reply = self.script(number, served)
                    served += 1
                    if reply is None:
                        conn.sendall(out)
                        return
                    out += reply
                conn.sendall(out)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(2.0)
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Script], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Script) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def run_worker(port: int, *, clients: int = 1, pipeline: int = 1, seconds: float = 0.6) -> (
    WorkerResult
):
    spec = WorkerSpec(
        0, "127.0.0.1", tuple(ClientSlot(i, port) for i in range(clients)),
        Workload(read_ratio=0.5, conflict_pct=10), pipeline, seed=1, nonce="t",
    )
    worker = Worker(spec)
    try:
        worker.connect_all()
        start = time.monotonic_ns()
        end = start + int(seconds * 1e9)
        return worker.run(start, end, end + int(1e9))
    finally:
        worker.close()


def test_error_replies_are_counted_by_prefix_and_answered_with_new_requests(
    serve: Callable[[Script], ScriptedServer],
) -> None:
    replies = [b"+OK\r\n", b"-UNCERTAIN outcome unknown\r\n", b"-LOADING loading\r\n",
               b"-ERR nope\r\n"]
    sent: dict[str, int] = {}

    def script(_conn: int, n: int) -> bytes:
        reply = replies[n % 4]
        if reply.startswith(b"-"):
            prefix = reply[1:].split(b" ")[0].decode()
            sent[prefix] = sent.get(prefix, 0) + 1
        return reply

    server = serve(script)
    result = run_worker(server.port, pipeline=2)
    assert result.unfinished == 0 and result.disconnects == 0
    assert result.errors == sent
    assert set(sent) == {"UNCERTAIN", "LOADING", "ERR"}
    assert result.per_port[server.port].total >= sent["ERR"]


def test_a_broken_connection_counts_its_outstanding_requests_and_is_redialled(
    serve: Callable[[Script], ScriptedServer],
) -> None:
    # The first connection answers 10 requests, then hangs up on the 11th: with
    # pipeline 4, that request and the 3 after it were outstanding.
    server = serve(lambda conn, n: None if conn == 0 and n == 10 else b"+OK\r\n")
    result = run_worker(server.port, pipeline=4)
    assert result.errors == {CONNECTION_ERROR: 4}
    assert result.disconnects == 1
    assert server.connections >= 2
    assert result.per_port[server.port].total > 10


def test_a_server_that_never_answers_leaves_requests_unfinished_but_the_run_ends(
    serve: Callable[[Script], ScriptedServer],
) -> None:
    server = serve(lambda _conn, n: b"+OK\r\n" if n < 5 else b"")
    result = run_worker(server.port, clients=2, pipeline=3, seconds=0.3)
    assert result.unfinished == 2 * 3
    assert result.errors == {}
