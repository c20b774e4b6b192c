"""What one loop turn costs below the network: core ``ready()`` plus ``apply_ready``.

Drives a real single-replica core and ``node.apply_ready`` against a real
``LmdbStore``, in one thread and without sockets, with the live benchmark's
shape: batches of ``--batch`` random ``SET key:NNNNNNNNNNNN <16 bytes>``
over a keyspace of ``--keyspace`` keys, after pre-filling ``--prefill`` keys
(so the B-tree has the size it has mid-run of ``redis-benchmark -n 200000
-r 1000000``). Reports per batch: core time, apply time and CPU time (the
process's: the gap between apply and CPU time is waiting for the disk).
``--defer-keys`` applies key-value effects the way the runtime loop does:
records every batch, effects in bulk once that many keys have gathered.

    .venv/bin/python tools/bench_apply.py [--batches 200] [--batch 400] [--prefill 200000]
        [--defer-keys 4096]

Timing lives here, never in tests.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from epaxosdb import commands
from epaxosdb.core.config import ReplicaConfig
from epaxosdb.core.ready import Ready
from epaxosdb.core.replica import Replica
from epaxosdb.node import Effects, Outbox, apply_ready, commit, prepare_ready
from protocol.messages import Command
from storage.interface import Txn, Value, ValueType
from storage.lmdb_store import LmdbStore


def set_command(rng: random.Random, ident: int, keyspace: int) -> Command:
    key = b"key:%012d" % rng.randrange(keyspace)
    return Command(1, ident, int(time.time() * 1000), ((b"SET", key, b"x" * 16),), False)


def prefill(store: LmdbStore, rng: random.Random, count: int, keyspace: int) -> None:
    value = Value(ValueType.STRING, 0, b"x" * 16)

    def fill(txn: Txn) -> None:
        for _ in range(chunk):
            txn.put(b"key:%012d" % rng.randrange(keyspace), value)

    done = 0
    while done < count:
        chunk = min(50_000, count - done)
        store.write(fill)
        done += chunk


def apply_deferred(store: LmdbStore, ready: Ready, unflushed: list[Effects], keys: int) -> Outbox:
    """The runtime loop's way: execute ahead, write records now and effects in bulk later."""
    prepared = prepare_ready(store, ready, 1, [unflushed[0].writes])
    assert prepared is not None
    unflushed[0].add(prepared)
    flush = None
    if len(unflushed[0].writes) >= keys:
        flush, unflushed[0] = unflushed[0], Effects()
    commit(store, ready, flush)
    return prepared.outbox


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--prefill", type=int, default=200_000)
    parser.add_argument("--keyspace", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--defer-keys",
        type=int,
        default=0,
        help="defer key-value effects as the runtime loop does, flushing at this many keys "
        "(0: apply every batch's effects in its own transaction, as apply_ready does)",
    )
    args = parser.parse_args()
    unflushed = [Effects()]
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(dir=args.dir) as where:
        store = LmdbStore.open(Path(where) / "d", replica_id=1, cluster_id=b"bench")
        prefill(store, rng, args.prefill, args.keyspace)
        core = Replica(
            ReplicaConfig(1, (1,)),
            rng=random.Random(1),
            access=commands.command_access,
            batch_access=commands.batch_access,
        )
        ident = 0
        core_s: list[float] = []
        apply_s: list[float] = []
        cpu_s: list[float] = []
        for _ in range(args.batches):
            cmds = []
            for _ in range(args.batch):
                ident += 1
                cmds.append(set_command(rng, ident, args.keyspace))
            c0 = time.process_time()
            t0 = time.perf_counter()
            core.propose(cmds)
            ready = core.ready()
            t1 = time.perf_counter()
            if args.defer_keys:
                out = apply_deferred(store, ready, unflushed, args.defer_keys)
            else:
                out = apply_ready(store, ready, 1)
            t2 = time.perf_counter()
            core.advance(ready)
            cpu_s.append(time.process_time() - c0)
            assert len(out.replies) == args.batch, len(out.replies)
            core_s.append(t1 - t0)
            apply_s.append(t2 - t1)
        store.close()

    def ms(xs: list[float]) -> str:
        p50, mean = 1000 * statistics.median(xs), 1000 * statistics.fmean(xs)
        return f"p50 {p50:6.2f} ms  mean {mean:6.2f} ms"

    print(f"{args.batches} batches of {args.batch} SETs, prefill {args.prefill}")
    print(f"core   {ms(core_s)}")
    print(f"apply  {ms(apply_s)}")
    print(f"cpu    {ms(cpu_s)}   ({1e6 * statistics.fmean(cpu_s) / args.batch:.1f} us/SET)")
    total = statistics.fmean(core_s) + statistics.fmean(apply_s)
    print(f"turn   {1000 * total:.2f} ms -> {args.batch / total:,.0f} SET/s serial")
    return 0


if __name__ == "__main__":
    sys.exit(main())
