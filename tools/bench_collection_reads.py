"""Reads of one large set, hash or sorted set through the replica's execution path, per command.

Each batch of commands runs on a ``BufferedView`` over a fresh LMDB read
transaction, as a replica's turn does, so every batch reads the value out of
LMDB as a new object. Run it from the tree to measure; pass ``--tree`` (more
than once) to measure other trees side by side in one run.

    .venv/bin/python tools/bench_collection_reads.py --tree /tmp/old --tree .
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_MEASURE = r"""
import json, statistics, sys, tempfile, time
sys.path.insert(0, ".")
from epaxosdb.commands import hashes, sets, zsets
from storage.buffered import BufferedView
from storage.interface import Value, ValueType
from storage.lmdb_store import LmdbStore

store = LmdbStore.open(tempfile.mkdtemp(prefix="collection-reads-"))
out = {}
for size in (1_000, 100_000):
    members = [b"member:%d" % i for i in range(size)]
    store.write(lambda t: t.put(b"s", Value(ValueType.SET, 0, sets.encode_set(members))))
    fields = {m: b"v" * 16 for m in members}
    store.write(lambda t: t.put(b"h", Value(ValueType.HASH, 0, hashes.encode_hash(fields))))
    scores = {m: float(i % 977) for i, m in enumerate(members)}
    store.write(lambda t: t.put(b"z", Value(ValueType.ZSET, 0, zsets.encode_zset(scores))))
    cases = (
        ("SISMEMBER", sets.cmd_sismember, (b"s", b"member:7")),
        ("HGET", hashes.cmd_hget, (b"h", b"member:7")),
        ("ZREVRANGE", zsets.cmd_zrange, (b"z", b"0", b"9", b"WITHSCORES")),
        ("ZRANK", zsets.cmd_zrank, (b"z", b"member:7")),
    )
    for name, handler, args in cases:
        def batch(base):
            view = BufferedView(base, ())
            started = time.perf_counter()
            for i in range(10):
                handler(view, (name.encode(), *args), 1, i)
            return (time.perf_counter() - started) / 10
        out[f"{name} {size}"] = statistics.median(store.read(batch) for _ in range(15))
store.close()
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=None, help="source tree (repeatable)")
    args = parser.parse_args()
    trees = args.tree or ["."]
    results = {}
    for tree in trees:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE], cwd=tree, capture_output=True, text=True, check=True
        )
        results[tree] = json.loads(done.stdout)
    for case in results[trees[0]]:
        row = "  ".join(f"{results[t][case] * 1e6:9.1f} us" for t in trees)
        print(f"{case:18} {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
