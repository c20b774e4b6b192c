"""This replica's Lua script cache: what EVALSHA finds a script's body in.

As in Redis, the cache is not data: it is not replicated, not persisted, and
SCRIPT FLUSH empties it on this replica only. EVALSHA is answered by looking
the body up here and proposing the script as EVAL, so what replicas execute
never depends on their caches. A client that meets ``NOSCRIPT`` (another
replica, a restart) sends EVAL or SCRIPT LOAD again, as Redis clients do
(redis-py's ``Script`` objects among them).

Scripts given to SCRIPT LOAD stay until SCRIPT FLUSH; those merely run by
EVAL are kept for EVALSHA too, but only the most recent ``EVAL_SCRIPTS_MAX``
of them (Redis 7.4 bounds them the same way), so an application that builds
a new script text per call does not grow the cache without end.
"""

from __future__ import annotations

from collections import OrderedDict

from epaxosdb.commands.scripting import sha1_hex

EVAL_SCRIPTS_MAX = 500


class ScriptCache:
    def __init__(self) -> None:
        self._loaded: dict[bytes, bytes] = {}
        self._evaluated: OrderedDict[bytes, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._loaded) + len(self._evaluated)

    def load(self, body: bytes) -> bytes:
        """SCRIPT LOAD: keep ``body`` until a flush; its SHA1 (lower-case hex)."""
        sha = sha1_hex(body)
        self._evaluated.pop(sha, None)
        self._loaded[sha] = body
        return sha

    def evaluated(self, body: bytes) -> None:
        """EVAL ran ``body``: keep it for EVALSHA among the recent ones."""
        sha = sha1_hex(body)
        if sha in self._loaded:
            return
        self._evaluated[sha] = body
        self._evaluated.move_to_end(sha)
        while len(self._evaluated) > EVAL_SCRIPTS_MAX:
            self._evaluated.popitem(last=False)

    def get(self, sha: bytes) -> bytes | None:
        key = sha.lower()
        body = self._loaded.get(key)
        if body is None:
            body = self._evaluated.get(key)
            if body is not None:
                self._evaluated.move_to_end(key)
        return body

    def flush(self) -> None:
        self._loaded.clear()
        self._evaluated.clear()
