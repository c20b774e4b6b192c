"""Settings for every test run in this process.

``workspace.AUDIT``: each command the tests execute in-process (differential
tests, the simulator's replicas) runs in a ``Workspace`` that checks, after
every op, that the handler stored whatever collection it changed — the
contract that lets MULTIs and scripts keep collections decoded between ops.
Replica processes started by the integration tests run without it, as
production does.
"""

from __future__ import annotations

from epaxosdb.commands import workspace

workspace.AUDIT = True
