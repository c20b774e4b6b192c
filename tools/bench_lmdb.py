"""Commit-rate micro-benchmark of LmdbStore: what group commit buys.

Every ``write()`` is one fsync'd LMDB transaction, so the cost is per commit,
not per put; the runtime batches everything that arrived during the previous
fsync into the next write. This measures commits/s and puts/s for a few
batch sizes through the real ``LmdbStore.write`` (locking, value encoding,
expiry index), so the numbers are what ``apply_ready`` can expect.

    .venv/bin/python tools/bench_lmdb.py [--seconds 2] [--value-bytes 100] [--dir PATH]

``--records`` also stores one instance record per put and marks it executed,
the shape of a replica applying committed batches.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from protocol.messages import Ballot, Command, InstanceId, InstanceRecord, Status
from storage.interface import Txn, Value, ValueType
from storage.lmdb_store import LmdbStore

BATCHES_DEFAULT = (1, 10, 100, 1000)
WRITES_MAX_PER_ROW = 1_000_000
"""Upper bound on writes in one row, whatever the duration (keeps the loop bounded)."""


@dataclass(frozen=True)
class Row:
    puts_per_write: int
    writes: int
    elapsed_s: float
    latencies_s: list[float]

    @property
    def commits_per_s(self) -> float:
        return self.writes / self.elapsed_s

    @property
    def puts_per_s(self) -> float:
        return self.writes * self.puts_per_write / self.elapsed_s

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_row(
    store: LmdbStore, puts_per_write: int, seconds: float, value_bytes: int, records: bool
) -> Row:
    payload = b"x" * value_bytes
    latencies: list[float] = []
    next_index = [0]

    def batch(txn: Txn) -> None:
        start = next_index[0]
        for i in range(start, start + puts_per_write):
            key = b"bench:%d:%d" % (puts_per_write, i)
            txn.put(key, Value(ValueType.STRING, 0, payload))
        if records:
            ids = [InstanceId(puts_per_write, i) for i in range(start, start + puts_per_write)]
            txn.put_instances(
                InstanceRecord(
                    inst, Status.COMMITTED,
                    (Command(1, inst.index, 0, ((b"SET", b"k", payload),)),),
                    1, (inst.index - 1,), Ballot(0, 0, 1), Ballot(0, 0, 1),
                )
                for inst in ids
            )
            txn.mark_executed(ids)

    began = time.perf_counter()
    deadline = began + seconds
    for _ in range(WRITES_MAX_PER_ROW):
        t0 = time.perf_counter()
        store.write(batch)
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        next_index[0] += puts_per_write
        if t1 >= deadline:
            break
    return Row(puts_per_write, len(latencies), time.perf_counter() - began, latencies)


def print_table(rows: list[Row], value_bytes: int, records: bool) -> None:
    shape = f"{value_bytes}-byte values"
    if records:
        shape += ", + instance record and executed mark"
    print(f"LmdbStore.write() commit rate ({shape}; sync=True, metasync=True)")
    print(f"{'puts/write':>10} {'writes':>8} {'commits/s':>10} {'puts/s':>10} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for row in rows:
        print(
            f"{row.puts_per_write:>10} {row.writes:>8} {row.commits_per_s:>10,.0f} "
            f"{row.puts_per_s:>10,.0f} {row.percentile_ms(0.50):>8.3f} "
            f"{row.percentile_ms(0.99):>8.3f} {1000 * statistics.fmean(row.latencies_s):>8.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each row")
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--batches", default=",".join(map(str, BATCHES_DEFAULT)),
                        help="comma-separated puts per write")
    parser.add_argument("--records", action="store_true",
                        help="also store and mark an instance record per put")
    parser.add_argument("--dir", type=Path, default=None,
                        help="data dir on the disk to measure (default: a temporary dir)")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    with (
        tempfile.TemporaryDirectory(dir=args.dir) as where,
        LmdbStore.open(Path(where) / "bench") as store,
    ):
        rows = [run_row(store, n, args.seconds, args.value_bytes, args.records) for n in batches]
    print_table(rows, args.value_bytes, args.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
