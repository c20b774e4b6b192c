"""Micro-benchmark of the RESP codec: parse and encode throughput.

Run ``python tools/bench_resp.py``. It prints requests per second for
pipelined GET/SET/MSET streams fed in 16 KB chunks, for raw hiredis (the
ceiling), for ``RespParser`` in its normal mode and with hiredis disabled,
and replies per second for ``encode_reply``/``write_reply``. Timing lives
here, never in tests.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import hiredis

from protocol.replies import OK
from protocol.resp import NEED_DATA, RespParser, encode_reply, encode_request, write_reply

CHUNK = 16 * 1024


def _stream(args: list[bytes], count: int) -> list[bytes]:
    data = encode_request(args) * count
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def _best_of(repeats: int, run: Callable[[], int]) -> float:
    best = float("inf")
    done = 0
    for _ in range(repeats):
        start = time.perf_counter()
        done = run()
        best = min(best, time.perf_counter() - start)
    return done / best


def _hiredis(chunks: list[bytes]) -> int:
    """Requests raw hiredis parses (0 if it refuses input that Redis accepts)."""
    reader = hiredis.Reader(notEnoughData=NEED_DATA)
    count: int = 0
    try:
        for chunk in chunks:
            reader.feed(chunk)
            while reader.gets() is not NEED_DATA:
                count += 1
    except hiredis.ProtocolError:
        return 0
    return count


def _parser(chunks: list[bytes], use_hiredis: bool) -> int:
    parser = RespParser(use_hiredis=use_hiredis)
    count = 0
    for chunk in chunks:
        parser.feed(chunk)
        while parser.next_request() is not NEED_DATA:
            count += 1
    return count


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--requests", type=int, default=200_000)
    cli.add_argument("--repeats", type=int, default=3)
    options = cli.parse_args()
    n: int = options.requests
    workloads = {
        "GET": [b"GET", b"key:000000012345"],
        "SET 3B": [b"SET", b"key:000000012345", b"xxx"],
        "SET 4KB": [b"SET", b"key:000000012345", b"x" * 4096],
        "SET 64KB": [b"SET", b"key:000000012345", b"x" * 65536],
        "MSET 200 args": [b"MSET"] + [b"key:%d" % i for i in range(199)],
    }
    streams = {name: _stream(args, n if len(args) < 100 and len(args[-1]) < 10000 else n // 20)
               for name, args in workloads.items()}  # fmt: skip
    # Valid input that FAST mode hands back to SLOW at every request: the cost
    # must stay linear (a client must not make parsing quadratic).
    for name, unit in {"*-1 + PING": b"*-1\r\n*1\r\n$4\r\nPING\r\n",
                       "lone CR header": b"*1\rX$4\r\nPING\r\n"}.items():  # fmt: skip
        data = unit * n
        streams[name] = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    for name, chunks in streams.items():
        ceiling = _best_of(options.repeats, partial(_hiredis, chunks))
        fast = _best_of(options.repeats, partial(_parser, chunks, True))
        slow = _best_of(options.repeats, partial(_parser, chunks, False))
        share = f"({fast / ceiling:4.0%})" if ceiling else "(hiredis refuses it)"
        print(
            f"parse {name:14} hiredis {ceiling / 1e6:6.2f} M/s   RespParser {fast / 1e6:6.2f} M/s"
            f" {share}   without hiredis {slow / 1e6:6.2f} M/s"
        )
    value = b"x" * 3

    def encode_many() -> int:
        for _ in range(n):
            encode_reply(value, 2)
            encode_reply(OK, 2)
            encode_reply(42, 2)
        return 3 * n

    def write_many() -> int:
        out = bytearray()
        for _ in range(n):
            write_reply(out, value, 2)
            write_reply(out, OK, 2)
            write_reply(out, 42, 2)
        return 3 * n

    print(f"encode_reply bulk/OK/int  {_best_of(options.repeats, encode_many) / 1e6:6.2f} M/s")
    print(f"write_reply  bulk/OK/int  {_best_of(options.repeats, write_many) / 1e6:6.2f} M/s")


if __name__ == "__main__":
    main()
