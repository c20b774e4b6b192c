"""Keys that share a CRC-32, so tests can build hash groups on purpose.

CRC-32 is affine over GF(2): for a fixed prefix, the CRC of ``prefix + x``
(``x`` four bytes) is ``crc(prefix + 0000) XOR L(x)`` with ``L`` linear and
invertible. Solving ``L(x) = target XOR crc(prefix + 0000)`` gives the four
bytes that steer any prefix onto any hash.
"""

from __future__ import annotations

import zlib


def _crc_with(prefix: bytes, x: int) -> int:
    return zlib.crc32(prefix + x.to_bytes(4, "big"))


def forge(prefix: bytes, target: int) -> bytes:
    """``prefix`` plus four bytes whose CRC-32 is ``target``."""
    base = _crc_with(prefix, 0)
    # rows: (column of L for bit i, the bit i itself); eliminate to find x.
    rows = [(_crc_with(prefix, 1 << i) ^ base, 1 << i) for i in range(32)]
    want = target ^ base
    x = 0
    for bit in range(32):
        pivot = next((r for r in rows if r[0] >> bit & 1), None)
        assert pivot is not None, "CRC-32 over four appended bytes is invertible"
        rows.remove(pivot)
        rows = [(c ^ pivot[0], v ^ pivot[1]) if c >> bit & 1 else (c, v) for c, v in rows]
        if want >> bit & 1:
            want ^= pivot[0]
            x ^= pivot[1]
    key = prefix + x.to_bytes(4, "big")
    assert zlib.crc32(key) == target
    return key


def colliding(prefixes: list[bytes], target: int) -> list[bytes]:
    """One key per prefix, all with CRC-32 ``target``."""
    return [forge(prefix, target) for prefix in prefixes]
