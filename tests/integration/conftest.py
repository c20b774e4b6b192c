"""Fixtures for process-level tests: clusters of real replicas, and their logs on failure.

``cluster1`` and ``cluster3`` are shared by the tests of one module (starting
processes costs seconds); a test that leaves a replica dead or stopped must
restore it, or use ``make_cluster`` for a private one. When a test fails,
the tail of every live replica's log is attached to its report, so a failure
says what the servers saw.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import pytest

from tests.integration.cluster import ProcessCluster
from tests.redis_server import redis_server as redis_server

LIVE: pytest.StashKey[list[ProcessCluster]] = pytest.StashKey()
SETTINGS: dict[str, object] = {"secret": "integration-tests"}
"""Clusters authenticate peers with a shared secret, as a deployed cluster would."""


def _register(config: pytest.Config, cluster: ProcessCluster) -> None:
    config.stash.setdefault(LIVE, []).append(cluster)


def _unregister(config: pytest.Config, cluster: ProcessCluster) -> None:
    live = config.stash.get(LIVE, [])
    if cluster in live:
        live.remove(cluster)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.failed:
        for cluster in item.config.stash.get(LIVE, []):
            report.sections.append((f"replica logs ({cluster.directory})", cluster.logs()))


def module_cluster(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    n: int,
    *,
    tls: bool = False,
    **settings: object,
) -> Iterator[ProcessCluster]:
    """A cluster for a module-scoped fixture (``[cluster]`` settings as keywords; ``tls``
    gives each replica a TLS port too)."""
    cluster = ProcessCluster.start(
        n,
        tmp_path_factory.mktemp(f"cluster{n}"),
        cluster_settings={**SETTINGS, **settings},
        tls=tls,
    )
    _register(request.config, cluster)
    try:
        yield cluster
    finally:
        _unregister(request.config, cluster)
        cluster.close()


@pytest.fixture(scope="module")
def cluster1(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessCluster]:
    """One replica process, shared by the module's tests."""
    yield from module_cluster(request, tmp_path_factory, 1)


@pytest.fixture(scope="module")
def cluster3(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessCluster]:
    """Three replica processes, shared by the module's tests."""
    yield from module_cluster(request, tmp_path_factory, 3)


@pytest.fixture
def make_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[int], ProcessCluster]]:
    """Start private clusters of any size (``[cluster]`` settings as keywords, ``tls``
    for TLS ports); all are closed when the test ends."""
    started: list[ProcessCluster] = []

    def make(n: int, *, tls: bool = False, **settings: object) -> ProcessCluster:
        cluster = ProcessCluster.start(
            n,
            tmp_path_factory.mktemp(f"cluster{n}"),
            cluster_settings={**SETTINGS, **settings},
            tls=tls,
        )
        started.append(cluster)
        _register(request.config, cluster)
        return cluster

    try:
        yield make
    finally:
        errors = []
        for cluster in started:
            _unregister(request.config, cluster)
            try:
                cluster.close()
            except AssertionError as exc:
                errors.append(str(exc))
        if errors:
            raise AssertionError("\n".join(errors))
