"""ROLE over the wire: every replica answers as a standalone Redis master does."""

from __future__ import annotations

import pytest

from tests.integration.cluster import ProcessCluster
from tests.redis_server import RawConnection, RedisServer


@pytest.mark.parametrize("protocol", [2, 3])
def test_role_answers_as_a_standalone_redis_master(
    redis_server: RedisServer, cluster3: ProcessCluster, protocol: int
) -> None:
    replies = []
    for port in (redis_server.port, cluster3.port(1), cluster3.port(3)):
        conn = RawConnection(port, timeout_s=15.0)
        try:
            if protocol == 3:
                conn.hello(3)
            replies.append(conn.call(b"ROLE"))
            assert conn.call(b"ROLE", b"x").startswith(b"-ERR wrong number of arguments")
        finally:
            conn.close()
    assert replies[0] == b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
    assert replies[1] == replies[2] == replies[0]
