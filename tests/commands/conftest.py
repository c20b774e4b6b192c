"""Fixtures for the command tests: a real redis-server and differential pairs over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.commands.differential import Differential
from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server


@pytest.fixture(params=[2, 3], ids=["RESP2", "RESP3"])
def diff(request: pytest.FixtureRequest, redis_server: RedisServer) -> Iterator[Differential]:
    """A fresh model and an emptied redis-server, talking RESP2 or RESP3."""
    conn = redis_server.connect(request.param)
    try:
        yield Differential(conn, request.param)
    finally:
        conn.close()


@pytest.fixture
def resp2(redis_server: RedisServer) -> Iterator[Differential]:
    """RESP2 alone, for long sequences whose replies RESP3 encodes as RESP2 does (integers,
    bulk strings, errors, arrays): their edge cases run under both through ``diff``."""
    conn = redis_server.connect(2)
    try:
        yield Differential(conn, 2)
    finally:
        conn.close()
