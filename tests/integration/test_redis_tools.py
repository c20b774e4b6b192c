"""redis-cli and redis-benchmark, the tools every Redis user reaches for, against a replica.

Each test runs Debian's binaries as separate processes against one real
replica (``cluster1``), with bounded timeouts, and reads what a user would
see: redis-cli's output, its ``--pipe`` summary line, an interactive session
under a pseudo-terminal (whose start-up sends ``COMMAND DOCS`` for hints),
and redis-benchmark's exit code and report lines. A missing tool fails the
test with instructions rather than skipping it.
"""

from __future__ import annotations

import fcntl
import os
import pty
import random
import re
import select
import signal
import struct
import subprocess
import termios
import time

from tests.integration.cluster import ProcessCluster, redis_cli, tool
from tests.redis_server import RedisServer

PIPE_KEYS = 100_000
BENCHMARK_REQUESTS = 20_000
BENCHMARK_TESTS = ("PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)")
PTY_TIMEOUT_S = 20.0


ONE_SHOT = [
    ["SET", "a", "1"],
    ["GET", "a"],
    ["GET", "no-such-key"],
    ["INCR", "a"],
    ["INCR", "a", "b"],
    ["SET", "a", "1", "EX", "0"],
    ["MGET", "a", "no-such-key"],
    ["NOSUCH", "x"],
    ["DEL", "a"],
]


def test_redis_cli_one_shot_commands_print_what_redis_prints(
    cluster1: ProcessCluster, redis_server: RedisServer
) -> None:
    port = cluster1.port(1)
    set_ = redis_cli(port, "SET", "a", "1")
    assert (set_.returncode, set_.stdout, set_.stderr) == (0, b"OK\n", b"")
    get = redis_cli(port, "GET", "a")
    assert (get.returncode, get.stdout) == (0, b"1\n")
    redis_cli(redis_server.port, "FLUSHALL")
    for args in ONE_SHOT:
        ours, theirs = redis_cli(port, *args), redis_cli(redis_server.port, *args)
        assert (ours.returncode, ours.stdout, ours.stderr) == (
            theirs.returncode,
            theirs.stdout,
            theirs.stderr,
        ), args


def _mass_insert_protocol(count: int) -> bytes:
    """The RESP stream ``redis-cli --pipe`` documentation describes: one SET per key."""
    parts = []
    for i in range(count):
        key, value = b"mass:%d" % i, b"value-%d" % (i * 7)
        parts.append(
            b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)
        )
    return b"".join(parts)


def test_redis_cli_pipe_mass_inserts_100k_keys_without_errors(cluster1: ProcessCluster) -> None:
    port = cluster1.port(1)
    client = cluster1.client(1)
    assert client.flushall() is True
    done = redis_cli(port, "--pipe", stdin=_mass_insert_protocol(PIPE_KEYS))
    assert done.returncode == 0, done
    assert b"errors: 0, replies: %d" % PIPE_KEYS in done.stdout, done.stdout
    assert client.dbsize() == PIPE_KEYS
    for i in random.Random(7).sample(range(PIPE_KEYS), 200):
        assert client.get(b"mass:%d" % i) == b"value-%d" % (i * 7)


class PtySession:
    """A program on a pseudo-terminal, driven like a user at a keyboard (bounded reads)."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        env = {**os.environ, "TERM": "xterm", "HOME": os.environ.get("HOME", "/tmp")}
        env["REDISCLI_HISTFILE"] = "/dev/null"
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.output = b""
        self._mark = 0

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, wanted: bytes, timeout_s: float = PTY_TIMEOUT_S) -> bytes:
        """Read until ``wanted`` appears after the previous match; return what came before it."""
        deadline = time.monotonic() + timeout_s
        while True:
            at = self.output.find(wanted, self._mark)
            if at >= 0:
                before = self.output[self._mark : at]
                self._mark = at + len(wanted)
                return before
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{wanted!r} not seen within {timeout_s}s; got {self.output!r}"
                )
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the program exited and closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{wanted!r} not seen before EOF; got {self.output!r}")
                self.output += chunk

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        os.close(self.master)


def test_interactive_redis_cli_sets_and_gets_after_its_command_docs_start_up(
    cluster1: ProcessCluster,
) -> None:
    port = cluster1.port(1)
    prompt = b"127.0.0.1:%d> " % port
    session = PtySession([tool("redis-cli"), "-p", str(port)])
    try:
        session.expect(prompt)
        # Once the prompt is up, redis-cli has fetched COMMAND DOCS for its hints.
        clients = cluster1.client(1, protocol=2).client_list()
        cli = [c for c in clients if c.get("cmd", "").startswith("command")]
        assert [c["cmd"] for c in cli] == ["command|docs"], clients
        session.send("SET x 1\r")
        session.expect(b"OK")
        session.expect(prompt)
        session.send("GET x\r")
        session.expect(b'"1"')
        session.expect(prompt)
        session.send("quit\r")
        assert session.process.wait(PTY_TIMEOUT_S) == 0
    finally:
        session.close()
    assert b"ERR" not in session.output, session.output


_REPORT = re.compile(rb"^(.+): [0-9.]+ requests per second, p50=[0-9.]+ msec$")


def test_redis_benchmark_default_tests_finish_without_error_lines(cluster1: ProcessCluster) -> None:
    run = subprocess.run(
        [
            tool("redis-benchmark"),
            "-p",
            str(cluster1.port(1)),
            "-t",
            "ping,set,get,incr,mset",
            "-n",
            str(BENCHMARK_REQUESTS),
            "-q",
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run
    assert run.stderr == b"", run.stderr
    lines = [line.strip() for line in re.split(rb"[\r\n]", run.stdout) if line.strip()]
    finals = [m.group(1).decode() for m in map(_REPORT.match, lines) if m is not None]
    assert finals == list(BENCHMARK_TESTS), run.stdout[-2000:]
    progress = [line for line in lines if _REPORT.match(line) is None]
    assert all(b": rps=" in line for line in progress), [
        line for line in progress if b": rps=" not in line
    ]
