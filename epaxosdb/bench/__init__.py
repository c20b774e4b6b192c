"""``epaxosdb bench``: a closed-loop, multi-process Redis-protocol load generator.

Modules: ``workload`` (what to send: the paper's conflict knob, read ratio),
``histogram`` (mergeable latency histograms), ``load`` (one worker process's
selector loop), ``probe`` (``INFO epaxos`` before/during/after), ``run`` (the
parent: workers, start instant, sampling, collection), ``report`` (text and
JSON), ``plot`` (optional PNG) and ``cli`` (the click command).
"""

from epaxosdb.bench.cli import command

__all__ = ["command"]
