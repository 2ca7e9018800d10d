"""Agents for the SNMP tests: one snmpsim for the session, snmpd in a fresh namespace per test that needs one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.network.snmp.agents import NamespaceAgent, RunningSimulator, namespace_agent, running_simulator


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSimulator]:
    with running_simulator(tmp_path_factory.mktemp("snmpsim")) as running:
        yield running


@pytest.fixture
def stepping_simulator(tmp_path: Path) -> Iterator[RunningSimulator]:
    """An snmpsim of its own, started for this test: the stepping recordings count from its start."""
    with running_simulator(tmp_path / "snmpsim") as running:
        yield running


@pytest.fixture
def ns_agent(tmp_path: Path) -> Iterator[NamespaceAgent]:
    with namespace_agent(tmp_path, pairs=2) as agent:
        yield agent
