"""Writes are refused with -MISCONF while the data dir's disk is nearly full; the rest works.

A QA run filled the one disk of a ``make run`` cluster: every replica stopped
at once, clients saw only closed connections, and a restart on the full disk
stopped again. Now a replica refuses its clients' writes below a reserve, and
keeps serving reads and the deletes that make room.
"""

from __future__ import annotations

import os
from pathlib import Path

from epaxosdb.runtime.diskspace import DiskSpace
from protocol.replies import Error
from protocol.resp import encode_request
from tests.runtime.fakes import FakeBackend, RawClient, running_server

MB = 1 << 20


def _statvfs(free: list[int]) -> object:
    def statvfs(path: Path) -> os.statvfs_result:
        return os.statvfs_result((4096, 4096, 10**6, 0, free[0] // 4096, 0, 0, 0, 0, 255))

    return statvfs


def test_writes_are_refused_below_the_reserve_and_accepted_again_above_it() -> None:
    free = [100 * MB]
    disk = DiskSpace(Path("/data"), reserve=64 * MB, statvfs=_statvfs(free))  # type: ignore[arg-type]
    assert disk.check() is None
    free[0] = 10 * MB
    refusal = disk.check()
    assert isinstance(refusal, Error) and refusal.code == "MISCONF"
    assert "10 MB free, under the 64 MB reserve" in refusal.text
    free[0] = 64 * MB
    assert disk.check() is None and disk.refusal is None


def test_a_failing_statvfs_keeps_the_last_judgement() -> None:
    def broken(path: Path) -> os.statvfs_result:
        raise OSError("gone")

    disk = DiskSpace(Path("/data"), statvfs=broken)
    assert disk.check() is None


MISCONF = b"-MISCONF the disk of this replica's data dir is nearly full"


async def test_a_replica_short_of_disk_refuses_writes_and_serves_reads_and_deletes() -> None:
    backend = FakeBackend()
    async with running_server(backend) as server:
        client = await RawClient.connect(server.port)
        assert await client.call("SET", "k", "v") == b"+OK\r\n"
        assert await client.call("SET", "gone", "v") == b"+OK\r\n"
        server.registry.writes_refused = Error(MISCONF[1:].decode() + " (10 MB free)")
        submitted = len(backend.submitted)
        await client.send(b"".join(encode_request(["SET", f"p{i}", "v"]) for i in range(5)))
        assert (await client.replies(5)).count(MISCONF) == 5  # a pipelined run too
        assert (await client.call("EVAL", "return 1", "0")).startswith(MISCONF)
        assert (await client.call("INCR", "n")).startswith(MISCONF)
        assert len(backend.submitted) == submitted
        assert await client.call("GET", "k") == b"$1\r\nv\r\n"
        assert await client.call("DEL", "gone") == b":1\r\n"
        assert await client.call("PUBLISH", "ch", "m") == b":0\r\n"
        assert await client.call("MULTI") == b"+OK\r\n"
        assert (await client.call("SET", "k", "w")).startswith(MISCONF)
        assert await client.call("EXEC") == (
            b"-EXECABORT Transaction discarded because of previous errors.\r\n"
        )
        server.registry.writes_refused = None
        assert await client.call("SET", "k", "w") == b"+OK\r\n"


def test_room_lmdb_will_reuse_counts_as_free_once_the_disk_is_low() -> None:
    """Deleting keys frees pages in the data file, not on the disk: without counting them,
    DEL and FLUSHALL could never let writes in again."""
    free, reusable = [10 * MB], [0]
    disk = DiskSpace(
        Path("/data"),
        reserve=64 * MB,
        statvfs=_statvfs(free),  # type: ignore[arg-type]
        reusable=lambda: reusable[0],
    )
    assert disk.check() is not None
    reusable[0] = 60 * MB
    assert disk.check() is None
