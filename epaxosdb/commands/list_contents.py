"""``ListContents``: a list being changed, costing what its changes do, not what it holds.

Why: a list is stored as one value (``packed_list``), and a change that
rebuilt it — decoding every element, or even copying every byte — costs in
proportion to the list. A queue with a backlog of 200,000 elements then
served a few hundred pushes a second, and a busy one paid that copy
thousands of times between two writes to the store.

So a list being changed is kept in three parts: the records of its stored
form that are still there (the *middle*, elements ``lo`` to ``hi - 1`` of
the stored value, never decoded or copied while it is changed), and the
elements pushed before and after them, in two deques. A push adds to a
deque; a pop takes from a deque, or else reads the records at one edge of
the middle and moves that edge; LTRIM moves the edges; LINDEX, LRANGE and
LSET near either end read or move only the records they name. Encoding it
again (``encode``) packs the pushed elements and copies the middle's bytes
once. A ``Workspace`` holds these contents from command to command, and the
consensus loop carries them from step to step (``workspace``), so a queue
changed by many clients between two flushes of the deferred writes is
encoded once per flush, at the cost of one copy.

Edges move by the lengths table of the stored form, so finding element
``i`` of the middle costs in proportion to its distance from the nearer
edge. A search (LPOS, LINSERT, LREM with a count) reads from one end only as
far as it goes (``walk``); LREM 0 reads every element (``elements``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from storage.interface import Payload, StorageError

from . import packed_list
from .packed_list import Packed

SPILL = 64
"""Records read at once from an edge of the middle into the deque beside it (``_spill``)."""
WALK = 256
"""Records read at once by a walk over the middle (``walk``)."""


def _slice(elements: deque[bytes], start: int, stop: int) -> list[bytes]:
    """``elements[start:stop]``, walked from the nearer end."""
    size = len(elements)
    if start >= stop:
        return []
    if stop - start == 1:
        return [elements[start]]
    if start <= size - stop:
        return list(islice(elements, start, stop))
    taken = list(islice(reversed(elements), size - stop, size - start))
    taken.reverse()
    return taken


def _drop_end(elements: deque[bytes], count: int, right: bool) -> int:
    """Drop up to ``count`` elements from one end of ``elements``; how many went."""
    dropped = min(count, len(elements))
    if dropped == len(elements):
        elements.clear()
    else:
        drop = elements.pop if right else elements.popleft
        for _ in range(dropped):
            drop()
    return dropped


class ListContents:
    """A list's elements: ``head``, then records ``lo`` to ``hi - 1`` of a stored value
    (bytes ``lo_byte`` to ``hi_byte`` of it), then ``tail``. See the module docstring."""

    __slots__ = ("_head", "_hi", "_hi_byte", "_lo", "_lo_byte", "_packed", "_tail")

    def __init__(
        self,
        head: deque[bytes],
        packed: Packed | None,
        tail: deque[bytes],
        bounds: tuple[int, int, int, int] = (0, 0, 0, 0),
    ) -> None:
        self._head = head
        self._packed = packed
        self._tail = tail
        self._lo, self._hi, self._lo_byte, self._hi_byte = bounds

    @classmethod
    def of(cls, elements: Iterable[bytes]) -> ListContents:
        """These elements, head first, none of them stored."""
        return cls(deque(elements), None, deque())

    @classmethod
    def over(cls, payload: Payload) -> ListContents:
        """The list stored as ``payload`` (a value read in place only for reading), without
        decoding it; ``StorageError`` if its header says it is not one."""
        packed = packed_list.view(payload)
        return cls(deque(), packed, deque(), packed_list.whole(packed))

    def copy(self) -> ListContents:
        """Contents to change independently (the stored value is shared: it never changes)."""
        bounds = (self._lo, self._hi, self._lo_byte, self._hi_byte)
        return ListContents(deque(self._head), self._packed, deque(self._tail), bounds)

    def __len__(self) -> int:
        return len(self._head) + self._hi - self._lo + len(self._tail)

    def size_hint(self) -> int:
        """Roughly the bytes it takes: the middle's records, and the deques' elements."""
        return self._hi_byte - self._lo_byte + 48 * (len(self._head) + len(self._tail))

    # --- the middle -------------------------------------------------------------------

    def _records(self, start: int, stop: int) -> list[bytes]:
        """Records ``start`` to ``stop - 1`` of the stored value (within the middle)."""
        if start >= stop:
            return []
        packed = self._packed
        assert packed is not None
        window = (self._lo, self._hi, self._lo_byte, self._hi_byte)
        return packed_list.items(packed, start, stop, window)

    def _shrink(self, count: int, from_hi: bool) -> None:
        """Drop ``count`` records at one edge of the middle (they were read or removed)."""
        packed = self._packed
        assert packed is not None and count <= self._hi - self._lo
        if from_hi:
            self._hi_byte -= packed_list.records_size(packed, self._hi - count, self._hi)
            self._hi -= count
        else:
            self._lo_byte += packed_list.records_size(packed, self._lo, self._lo + count)
            self._lo += count
        if not self._lo_byte <= self._hi_byte:
            raise StorageError(packed_list.MISMATCH)

    # --- what the commands do -----------------------------------------------------------

    def items(self, start: int, stop: int) -> list[bytes]:
        """Elements ``start`` to ``stop - 1``, head first (``0 <= start <= stop <= len``)."""
        head, middle = len(self._head), self._hi - self._lo
        taken: list[bytes] = []
        if start < head:
            taken += _slice(self._head, start, min(stop, head))
        low, high = max(start - head, 0), min(stop - head, middle)
        if low < high:
            taken += self._records(self._lo + low, self._lo + high)
        low, high = max(start - head - middle, 0), stop - head - middle
        if low < high:
            taken += _slice(self._tail, low, high)
        return taken

    def elements(self) -> list[bytes]:
        """Every element, head first."""
        return self.items(0, len(self))

    def push(self, elements: Sequence[bytes], at_head: bool) -> None:
        """``elements`` added at the head or the tail, in the order given."""
        if at_head:
            self._head.extendleft(reversed(elements))
        else:
            self._tail.extend(elements)

    def pop(self, count: int, from_tail: bool) -> list[bytes]:
        """``count`` elements (all of them if there are fewer) off one end, nearest that
        end first."""
        count = min(count, len(self))
        near, far = (self._tail, self._head) if from_tail else (self._head, self._tail)
        if len(near) < count and self._hi > self._lo:
            self._spill(count - len(near), into_tail=from_tail)
        take = near.pop if from_tail else near.popleft
        taken = [take() for _ in range(min(count, len(near)))]
        if len(taken) < count:  # the middle is used up too: the rest is the far deque's
            take = far.pop if from_tail else far.popleft
            taken += [take() for _ in range(count - len(taken))]
        return taken

    def _spill(self, wanted: int, into_tail: bool) -> None:
        """Move at least ``wanted`` records (``SPILL`` at least, all there are at most) from
        one edge of the middle into the deque beside it: a queue popped one element at a
        time reads its records a batch at a time."""
        count = min(self._hi - self._lo, max(wanted, SPILL))
        if into_tail:
            records = self._records(self._hi - count, self._hi)
            self._shrink(count, from_hi=True)
            self._tail.extendleft(reversed(records))
        else:
            records = self._records(self._lo, self._lo + count)
            self._shrink(count, from_hi=False)
            self._head.extend(records)

    def set(self, index: int, element: bytes) -> None:
        """Element ``index`` (``0 <= index < len``) becomes ``element``. In the middle, the
        records from the nearer edge to it move into the deque on that side first."""
        where, at = self._reach(index)
        where[at] = element

    def remove(self, index: int) -> None:
        """Element ``index`` (``0 <= index < len``) goes, as ``set`` finds it."""
        where, at = self._reach(index)
        del where[at]

    def _reach(self, index: int) -> tuple[deque[bytes], int]:
        """The deque holding element ``index`` (spilling the records from the nearer edge of
        the middle to it, if it is stored there) and its position in it."""
        at = index - len(self._head)
        if 0 <= at < self._hi - self._lo:
            self._spill_nearer(at + 1, self._hi - self._lo - at)
        head, middle = len(self._head), self._hi - self._lo
        if index < head:
            return self._head, index
        return self._tail, index - head - middle

    def _spill_nearer(self, before: int, after: int) -> None:
        """Spill ``before`` records from the middle's first edge into the head, or
        ``after`` from its last edge into the tail, whichever are fewer."""
        if before <= after:
            self._spill(before, into_tail=False)
        else:
            self._spill(after, into_tail=True)

    def insert(self, index: int, element: bytes) -> None:
        """``element`` added before element ``index`` (``len``: at the tail). In the middle,
        the records from the nearer edge to there move into the deque on that side first."""
        at = index - len(self._head)
        if 0 < at < self._hi - self._lo:
            self._spill_nearer(at, self._hi - self._lo - at)
        head, middle = len(self._head), self._hi - self._lo
        if index <= head:
            self._head.insert(index, element)
        else:
            self._tail.insert(index - head - middle, element)

    def walk(self, from_tail: bool) -> Iterator[bytes]:
        """Every element from one end, the stored ones read ``WALK`` at a time: a search
        that stops early reads little. Nothing may change the contents during a walk."""
        if from_tail:
            yield from reversed(self._tail)
            yield from self._walk_middle(from_tail)
            yield from reversed(self._head)
        else:
            yield from self._head
            yield from self._walk_middle(from_tail)
            yield from self._tail

    def _walk_middle(self, from_tail: bool) -> Iterator[bytes]:
        packed = self._packed
        if packed is None:
            return
        size = packed_list.records_size
        if from_tail:
            at, last = self._hi, self._hi_byte
            while at > self._lo:
                start = max(at - WALK, self._lo)
                first = last - size(packed, start, at)
                if first < self._lo_byte:
                    raise StorageError(packed_list.MISMATCH)
                yield from reversed(packed_list.decode_records(packed, start, at, first, last))
                at, last = start, first
        else:
            at, first = self._lo, self._lo_byte
            while at < self._hi:
                stop = min(at + WALK, self._hi)
                last = first + size(packed, at, stop)
                if last > self._hi_byte:
                    raise StorageError(packed_list.MISMATCH)
                yield from packed_list.decode_records(packed, at, stop, first, last)
                at, first = stop, last

    def keep(self, start: int, stop: int) -> None:
        """Only elements ``start`` to ``stop - 1`` are left (LTRIM)."""
        size = len(self)
        self._drop(size - max(stop, start), from_tail=True)
        self._drop(start, from_tail=False)

    def _drop(self, count: int, from_tail: bool) -> None:
        """``count`` elements (at most ``len``) go from one end, unread."""
        near, far = (self._tail, self._head) if from_tail else (self._head, self._tail)
        count -= _drop_end(near, count, from_tail)
        middle = min(count, self._hi - self._lo)
        if middle:
            self._shrink(middle, from_tail)
        _drop_end(far, count - middle, from_tail)

    def encode(self) -> bytes:
        """The stored form of these contents (not empty): the stored value itself when
        nothing changed, else one copy of the middle with the pushed elements around it."""
        packed = self._packed
        bounds = (self._lo, self._hi, self._lo_byte, self._hi_byte)
        if (
            packed is not None
            and not (self._head or self._tail)
            and bounds == packed_list.whole(packed)
            and type(packed.payload) is bytes
        ):
            return packed.payload
        return packed_list.assemble(self._head, packed, bounds, self._tail)
