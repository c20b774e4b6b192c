"""A real redis-server for differential tests, and a raw RESP connection to it.

Redis is the reference for epaxosdb's replies, so tests start Debian's
``redis-server`` and compare bytes. Everything here is built to be shared:

* ``RedisServer.start()`` runs one on 127.0.0.1 and an OS-assigned free
  port, with persistence off and its files in a private temporary directory;
  ``stop()`` (or leaving the ``with`` block) terminates that process by PID.
* ``redis_server`` is a module-scoped pytest fixture around it.
* ``RawConnection`` sends requests in multibulk form and returns each reply's
  exact bytes; ``parse_reply`` splits and decodes RESP2/RESP3 for the tests
  that must compare order-insensitive replies.

A missing ``redis-server`` fails the test with instructions rather than
skipping it: a skipped differential test would hide every divergence.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest

STARTUP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
REPLY_TIMEOUT_S = 10.0
START_ATTEMPTS = 3
"""A free port can be taken between choosing it and redis binding it; retry that many times."""

CRLF = b"\r\n"


def redis_server_binary() -> str:
    """The path of ``redis-server``; fails the calling test if it is not installed."""
    path = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if path is None:
        pytest.fail(
            "redis-server is needed for the differential tests: "
            "run `make test` as root or `apt-get install redis-server`"
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS had free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process owned by the test that started it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, directory: Path) -> None:
        self.process = process
        self.port = port
        self.directory = directory

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, *extra_args: str) -> RedisServer:
        """Start a server and wait (bounded) until it answers PING."""
        binary = redis_server_binary()
        directory = Path(tempfile.mkdtemp(prefix="epaxosdb-redis-"))
        failures: list[str] = []
        for _ in range(START_ATTEMPTS):
            port = free_port()
            log = directory / f"redis-{port}.log"
            args = [
                binary,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(directory),
                "--daemonize", "no",
                "--logfile", str(log),
                *extra_args,
            ]  # fmt: skip
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            server = cls(process, port, directory)
            if server._wait_ready():
                return server
            server._terminate()
            failures.append(log.read_text() if log.exists() else "(no log)")
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError("redis-server did not start:\n" + "\n".join(failures))

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(OSError), RawConnection(self.port, timeout_s=1.0) as conn:
                if conn.call(b"PING") == b"+PONG\r\n":
                    return True
            time.sleep(0.02)
        return False

    def _terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove its directory."""
        self._terminate()
        shutil.rmtree(self.directory, ignore_errors=True)

    def connect(self, protocol: int = 2) -> RawConnection:
        conn = RawConnection(self.port)
        if protocol == 3:
            conn.hello(3)
        return conn

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server shared by one test module, stopped after its last test."""
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


# --- raw RESP ---------------------------------------------------------------------------


class Incomplete(Exception):
    """The buffer ends before the reply does."""


@dataclass(frozen=True)
class Parsed:
    """A decoded RESP value that remembers its wire type (``kind`` is the type byte)."""

    kind: str
    value: object

    def sorted_items(self) -> list[Parsed]:
        """The elements of an aggregate in a canonical order (for order-free replies)."""
        assert isinstance(self.value, list)
        return sorted(self.value, key=repr)


def encode_request(args: Sequence[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts += (b"$%d\r\n" % len(arg), arg, CRLF)
    return b"".join(parts)


def parse_reply(data: bytes, pos: int = 0) -> tuple[Parsed, int]:
    """Decode one RESP2/RESP3 reply starting at ``pos``; return it and the position after it.

    Raises ``Incomplete`` when ``data`` holds only part of the reply.
    """
    end = data.find(CRLF, pos)
    if end < 0:
        raise Incomplete
    kind, line, pos = chr(data[pos]), data[pos + 1 : end], end + 2
    if kind in "+-:,#(_":
        return Parsed(kind, line), pos
    if kind in "$!=":
        length = int(line)
        if length < 0:
            return Parsed(kind, None), pos
        if len(data) < pos + length + 2:
            raise Incomplete
        return Parsed(kind, data[pos : pos + length]), pos + length + 2
    if kind in "*~>%|":
        count = int(line)
        if count < 0:
            return Parsed(kind, None), pos
        items: list[Parsed] = []
        for _ in range(count * 2 if kind in "%|" else count):
            item, pos = parse_reply(data, pos)
            items.append(item)
        return Parsed(kind, items), pos
    raise ValueError(f"not a RESP reply type: {kind!r} at {pos}")


class RawConnection:
    """A blocking socket that returns the exact bytes of each reply."""

    def __init__(self, port: int, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.buffer = b""

    def call(self, *args: bytes) -> bytes:
        """Send one request and return its reply's raw bytes."""
        self.sock.sendall(encode_request(args))
        return self.read_raw()

    def call_many(self, requests: Sequence[Sequence[bytes]]) -> list[bytes]:
        """Pipeline ``requests`` in one write; return each reply's raw bytes, in order."""
        self.sock.sendall(b"".join(encode_request(args) for args in requests))
        return [self.read_raw() for _ in requests]

    def read_raw(self) -> bytes:
        while True:
            try:
                _, end = parse_reply(self.buffer)
            except Incomplete:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    raise ConnectionError("redis-server closed the connection") from None
                self.buffer += chunk
                continue
            raw, self.buffer = self.buffer[:end], self.buffer[end:]
            return raw

    def hello(self, protocol: int) -> bytes:
        return self.call(b"HELLO", str(protocol).encode())

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
