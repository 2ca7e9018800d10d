"""The access-router adapter against real network namespaces: lines carry packets at their plan's rates,
walled lines reach only the portal, drift is found and repaired, and removal leaves nothing behind."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from network.access import netlink
from network.access.state import LinePort, LineSpec, LineState
from tests.lab import PORTAL, SERVER, Lab, lab, sh

__all__ = ["lab"]  # the fixture

pytestmark = pytest.mark.router


async def test_active_line_carries_traffic_at_the_plan_rates(lab: Lab) -> None:
    async with lab.driver() as router:
        report = await router.apply([lab.spec(down=20_000, up=5_000)], prune=True)
    assert report.created == ["otl7"]
    lab.configure_cpe()
    assert lab.ping(SERVER) and lab.ping(str(PORTAL))

    down = lab.goodput_kbps(sender_ns=lab.core, receiver_ns=lab.cpe, receiver_ip="100.64.0.10")
    up = lab.goodput_kbps(sender_ns=lab.cpe, receiver_ns=lab.core, receiver_ip=SERVER)

    assert 16_000 <= down <= 24_000, f"down {down:.0f} kbit/s for a 20,000 kbit/s plan"
    assert 4_000 <= up <= 6_000, f"up {up:.0f} kbit/s for a 5,000 kbit/s plan"


async def test_walled_line_reaches_only_the_portal_and_comes_back(lab: Lab) -> None:
    async with lab.driver() as router:
        await router.apply([lab.spec()], prune=True)
        lab.configure_cpe()
        assert lab.ping(SERVER)

        await router.apply([lab.spec(state=LineState.WALLED)], prune=True)
        assert not lab.ping(SERVER), "a walled line must not reach the internet"
        assert lab.ping(str(PORTAL)), "a walled line must still reach the portal"
        assert (await router.read())["otl7"].walled is True

        await router.apply([lab.spec()], prune=True)
        assert lab.ping(SERVER)


async def test_second_apply_and_plan_on_a_converged_router_change_nothing(lab: Lab) -> None:
    async with lab.driver() as router:
        await router.apply([lab.spec()], prune=True)
        again = await router.apply([lab.spec()], prune=True)
        planned = await router.plan([lab.spec()], prune=True)
    assert not again.changed and again.unchanged == 1
    assert not planned.changed and not planned.drift


async def test_rate_change_is_applied_in_place(lab: Lab) -> None:
    async with lab.driver() as router:
        await router.apply([lab.spec()], prune=True)
        index = await router.read()  # noqa: F841 - the interface must survive
        before = sh("ip", "-n", lab.router, "-o", "link", "show", "otl7").stdout.split(":")[0]
        report = await router.apply([lab.spec(down=50_000, up=10_000)], prune=True)
        seen = (await router.read())["otl7"]
    after = sh("ip", "-n", lab.router, "-o", "link", "show", "otl7").stdout.split(":")[0]
    assert report.updated == ["otl7"] and before == after
    assert (seen.down_kbps, seen.up_kbps) == (50_000, 10_000)


async def test_drift_by_hand_is_reported_and_repaired(lab: Lab) -> None:
    async with lab.driver() as router:
        await router.apply([lab.spec()], prune=True)
        sh(
            "tc",
            "-n",
            lab.router,
            "class",
            "change",
            "dev",
            "otl7",
            "parent",
            "1:",
            "classid",
            "1:1",
            "htb",
            "rate",
            "1mbit",
        )
        drift = await router.plan([lab.spec()], prune=True)
        assert drift.drift == {"otl7": ["down rate 1000 kbit, want 20000"]}

        sh("ip", "-n", lab.router, "link", "del", "otl7")
        drift = await router.plan([lab.spec()], prune=True)
        assert drift.drift == {"otl7": ["missing interface"]}
        repaired = await router.apply([lab.spec()], prune=True)
        assert repaired.created == ["otl7"]
        assert not (await router.plan([lab.spec()], prune=True)).changed


async def test_removal_leaves_nothing_of_the_line(lab: Lab) -> None:
    async with lab.driver() as router:
        await router.apply([lab.spec(state=LineState.WALLED)], prune=True)
        report = await router.remove(["otl7"])
        assert report.removed == ["otl7"] and await router.read() == {}
    assert "otl7" not in sh("ip", "-n", lab.router, "link").stdout
    assert "100.64.0.10" not in sh("ip", "-n", lab.router, "route").stdout
    assert "2001:db8:100::" not in sh("ip", "-n", lab.router, "-6", "route").stdout
    assert "otl7" not in sh("ip", "-n", lab.router, "rule").stdout
    assert "100.64.0.10" not in sh("ip", "-n", lab.router, "rule").stdout
    assert "1:a" not in sh("tc", "-n", lab.router, "class", "show", "dev", "up0").stdout  # 1:10 in hex
    assert "wan0" not in sh("ip", "-n", lab.cpe, "link").stdout


async def test_prune_removes_only_our_unwanted_interfaces(lab: Lab) -> None:
    sh("ip", "-n", lab.router, "link", "add", "keepme0", "type", "veth", "peer", "name", "keepme1")
    async with lab.driver() as router:
        await router.apply([lab.spec()], prune=True)
        report = await router.apply([], prune=True)
    assert report.removed == ["otl7"]
    links = sh("ip", "-n", lab.router, "link").stdout
    assert "keepme0" in links and "otl7" not in links


async def test_vxlan_line_carries_traffic(lab: Lab) -> None:
    sh("ip", "-n", lab.router, "link", "add", "ul0", "type", "veth", "peer", "name", "ul1", "netns", lab.cpe)
    sh("ip", "-n", lab.router, "addr", "add", "10.254.0.1/30", "dev", "ul0")
    sh("ip", "-n", lab.router, "link", "set", "ul0", "up")
    sh("ip", "-n", lab.cpe, "addr", "add", "10.254.0.2/30", "dev", "ul1")
    sh("ip", "-n", lab.cpe, "link", "set", "ul1", "up")
    sh(
        "ip",
        "-n",
        lab.cpe,
        "link",
        "add",
        "wan0",
        "type",
        "vxlan",
        "id",
        "4242",
        "remote",
        "10.254.0.1",
        "dev",
        "ul1",
        "dstport",
        "4789",
    )
    spec = LineSpec(
        **{**lab.spec().__dict__, "port": LinePort("vxlan", vni=4242, remote=IPv4Address("10.254.0.2"), underlay="ul0")}
    )
    async with lab.driver() as router:
        report = await router.apply([spec], prune=True)
        assert report.created == ["otl7"] and (await router.read())["otl7"].kind == "vxlan"
    lab.configure_cpe()
    assert lab.ping(SERVER)


def test_vlan_line_message_names_parent_and_vlan_id() -> None:
    message = netlink.link_vlan(4242, "otl9", parent=3, vlan_id=1234)
    assert b"vlan\0" in message and b"otl9\0" in message
    assert (1234).to_bytes(2, "little") in message and (3).to_bytes(4, "little") in message
