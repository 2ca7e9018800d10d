"""The access-router adapter (network.router) against real network namespaces: lines carry packets at their
plan's rates, walled lines reach only the portal, changes happen in place, drift is found and repaired,
prune and removal leave nothing of ours behind and never touch anything else."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Network

import pytest

from network.router import LinePort, LineSpec, LineState, LinuxRouter, shapers
from tests.network import traffic

pytestmark = pytest.mark.router

PORTAL = IPv4Address("198.51.100.80")  # on the router's loopback
ELSEWHERE = "192.0.2.1"  # also on the router's loopback: stands for the internet
GATEWAY = IPv4Address("100.64.0.1")
SUBSCRIBER = IPv4Address("100.64.0.10")
PREFIX = IPv6Network("2001:db8:100::/56")
SHAPER = shapers.shaper_name(shapers.shard_for(SUBSCRIBER))  # the shared upstream shaper the line is given


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=60)


@dataclass
class Site:
    """A router namespace (the portal and a stand-in for the internet on its loopback) and one customer
    premises namespace at the far end of the line."""

    router: str
    cpe: str

    def spec(self, *, state: LineState = LineState.ACTIVE, down: int = 20_000, up: int = 5_000) -> LineSpec:
        return LineSpec(
            ifname="otl7",
            port=LinePort.veth(peer_netns=self.cpe),
            gateway=GATEWAY,
            ipv4=SUBSCRIBER,
            ipv6_prefix=PREFIX,
            down_kbps=down,
            up_kbps=up,
            state=state,
        )

    def as_read(self, spec: LineSpec) -> LineSpec:
        """``spec`` as ``read()`` returns it: the far end's default name filled in."""
        return replace(spec, port=replace(spec.port, peer_ifname=spec.port.peer_ifname or "eth0"))

    def driver(self) -> LinuxRouter:
        return LinuxRouter(self.router, portal=PORTAL)

    def configure_cpe(self, wan: str = "eth0") -> None:
        """What the customer's router does once the line is up: its address, the gateway, a default route."""
        sh("ip", "-n", self.cpe, "link", "set", "lo", "up")
        sh("ip", "-n", self.cpe, "addr", "replace", f"{SUBSCRIBER}/32", "dev", wan)
        sh("ip", "-n", self.cpe, "link", "set", wan, "up")
        sh("ip", "-n", self.cpe, "route", "replace", str(GATEWAY), "dev", wan)
        sh("ip", "-n", self.cpe, "route", "replace", "default", "via", str(GATEWAY))

    def reaches(self, target: str, *, source_ns: str | None = None) -> bool:
        command = ("ip", "netns", "exec", source_ns or self.cpe, "ping", "-c", "2", "-i", "0.2", "-W", "1", target)
        return sh(*command, check=False).returncode == 0

    def link_index(self, name: str) -> str:
        return sh("ip", "-n", self.router, "-o", "link", "show", name).stdout.split(":")[0]

    def goodput_kbps(self, *, sender: str, receiver: str, address: str, seconds: float = 4.0) -> float:
        """TCP goodput from namespace ``sender`` to ``address`` in namespace ``receiver``, in kbit/s."""
        return traffic.goodput_kbps(sender_ns=sender, receiver_ns=receiver, address=address, seconds=seconds)


@pytest.fixture
def site() -> Iterator[Site]:
    tag = secrets.token_hex(3)
    site = Site(router=f"ot-r-{tag}", cpe=f"ot-c-{tag}")
    try:
        for ns in (site.router, site.cpe):
            sh("ip", "netns", "add", ns)
        sh("ip", "-n", site.router, "link", "set", "lo", "up")
        sh("ip", "-n", site.router, "addr", "add", f"{PORTAL}/32", "dev", "lo")
        sh("ip", "-n", site.router, "addr", "add", f"{ELSEWHERE}/32", "dev", "lo")
        yield site
    finally:
        for ns in (site.router, site.cpe):
            sh("ip", "netns", "del", ns, check=False)


async def test_active_line_carries_traffic_both_ways_at_the_plan_rates(
    site: Site, request: pytest.FixtureRequest
) -> None:
    async with site.driver() as router:
        report = await router.apply([site.spec(down=20_000, up=5_000)], prune=True)
        assert report.created == ["otl7"] and report.ok, report
        assert await router.read() == {"otl7": site.as_read(site.spec())}
    site.configure_cpe()
    assert site.reaches(str(GATEWAY)) and site.reaches(ELSEWHERE) and site.reaches(str(PORTAL))
    assert site.reaches(str(SUBSCRIBER), source_ns=site.router)

    down = site.goodput_kbps(sender=site.router, receiver=site.cpe, address=str(SUBSCRIBER))
    up = site.goodput_kbps(sender=site.cpe, receiver=site.router, address=ELSEWHERE)
    request.node.user_properties += [("down_kbps", round(down)), ("up_kbps", round(up))]  # in the JUnit report

    assert 16_000 <= down <= 24_000, f"down {down:.0f} kbit/s on a 20,000 kbit/s line"
    assert 4_000 <= up <= 6_000, f"up {up:.0f} kbit/s on a 5,000 kbit/s line"


def class_bytes(site: Site, classid: str) -> int:
    """Bytes sent so far by class ``classid`` of the line's shaper."""
    shown = sh("tc", "-n", site.router, "-s", "class", "show", "dev", SHAPER, "classid", classid).stdout
    return int(shown.split(" Sent ")[1].split()[0])


async def test_upstream_from_the_delegated_prefix_is_shaped_in_the_lines_class(site: Site) -> None:
    async with site.driver() as router:
        await router.apply([site.spec()], prune=True)
    classes = sh("tc", "-n", site.router, "class", "show", "dev", SHAPER).stdout
    line_class = next(row.split()[2] for row in classes.splitlines() if "rate 5Mbit" in row)
    site.configure_cpe()
    # The customer's router numbers a host from its prefix and sends IPv6 to the router (an address on the
    # router's loopback stands in for the internet), through the line.
    host, beyond = "2001:db8:100::1", "2001:db8:ffff::1"
    sh("ip", "-n", site.router, "addr", "add", f"{beyond}/128", "dev", "lo")
    sh("ip", "-n", site.cpe, "addr", "add", f"{host}/128", "dev", "eth0", "nodad")
    # Its default route is the router's link-local address on the line (as a router advertisement would
    # say), usable once the router's duplicate address detection is done: waited for a few seconds.
    for _ in range(40):
        local = sh("ip", "-n", site.router, "-6", "-o", "addr", "show", "dev", "otl7", "scope", "link").stdout
        if local and "tentative" not in local:
            break
        await asyncio.sleep(0.1)
    router_ll = local.split()[3].split("/")[0]
    sh("ip", "-n", site.cpe, "-6", "route", "add", "default", "via", router_ll, "dev", "eth0")
    before = class_bytes(site, line_class)
    ping = ("ip", "netns", "exec", site.cpe, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "1", "-s", "1000")
    assert any(sh(*ping, "-I", host, beyond, check=False).returncode == 0 for _ in range(5)), "IPv6 through the line"
    assert class_bytes(site, line_class) - before >= 3 * 1000, "the prefix's packets go through the line's class"


async def test_walled_line_reaches_only_the_portal_until_it_is_active_again(site: Site) -> None:
    async with site.driver() as router:
        await router.apply([site.spec()], prune=True)
        site.configure_cpe()
        assert site.reaches(ELSEWHERE)

        walled = await router.apply([site.spec(state=LineState.WALLED)], prune=True)
        assert walled.updated == ["otl7"]
        assert walled.drift == {"otl7": ["walled filter missing (up)", "walled filter missing (down)"]}
        assert not site.reaches(ELSEWHERE), "a walled line must reach nothing but the portal"
        assert site.reaches(str(PORTAL)), "a walled line must still reach the portal"
        assert (await router.read())["otl7"].state is LineState.WALLED

        active = await router.apply([site.spec()], prune=True)
        assert active.updated == ["otl7"]
        assert site.reaches(ELSEWHERE)
        assert (await router.read())["otl7"].state is LineState.ACTIVE
        # Walled lines shape with HTB (which takes the walled filter), open ones with TBF: back to TBF.
        assert " tbf 2: root " in sh("tc", "-n", site.router, "qdisc", "show", "dev", "otl7").stdout
        assert not (await router.plan([site.spec()], prune=True)).changed


async def test_rate_change_is_applied_in_place(site: Site) -> None:
    async with site.driver() as router:
        await router.apply([site.spec()], prune=True)
        before = site.link_index("otl7")
        report = await router.apply([site.spec(down=50_000, up=10_000)], prune=True)
        seen = (await router.read())["otl7"]
    assert report.updated == ["otl7"] and not report.created
    assert report.drift == {"otl7": ["down rate 20000 kbit, want 50000", "up rate 5000 kbit, want 10000"]}
    assert site.link_index("otl7") == before, "the line interface must not be made again"
    assert "rate 50Mbit" in sh("tc", "-n", site.router, "qdisc", "show", "dev", "otl7").stdout
    # Upstream, the line's class on the shared shaper it was given.
    assert "rate 10Mbit" in sh("tc", "-n", site.router, "class", "show", "dev", SHAPER).stdout
    assert (seen.down_kbps, seen.up_kbps) == (50_000, 10_000)


async def test_address_change_moves_gateway_and_routes(site: Site) -> None:
    moved = replace(site.spec(), gateway=IPv4Address("100.64.8.1"), ipv4=IPv4Address("100.64.8.9"), ipv6_prefix=None)
    async with site.driver() as router:
        await router.apply([site.spec()], prune=True)
        report = await router.apply([moved], prune=True)
        assert report.updated == ["otl7"] and report.ok, report.failed
        assert await router.read() == {"otl7": site.as_read(moved)}
    routes = sh("ip", "-n", site.router, "route").stdout + sh("ip", "-n", site.router, "-6", "route").stdout
    assert "100.64.8.9 dev otl7" in routes and "100.64.0.10" not in routes and "2001:db8:100::" not in routes
    assert "100.64.0.1/32" not in sh("ip", "-n", site.router, "addr", "show", "otl7").stdout


async def test_removal_leaves_nothing_of_the_line(site: Site) -> None:
    async with site.driver() as router:
        await router.apply([site.spec(state=LineState.WALLED)], prune=True)
        assert "eth0" in sh("ip", "-n", site.cpe, "link").stdout
        report = await router.remove(["otl7"])
        assert report.removed == ["otl7"] and report.ok and await router.read() == {}
        assert (await router.remove(["otl7"])).removed == [], "removing it again finds nothing"
    links = sh("ip", "-n", site.router, "link").stdout
    assert "otl7" not in links and "otu7" not in links
    assert "otl7" not in sh("ip", "-n", site.router, "route").stdout
    assert "otl7" not in sh("ip", "-n", site.router, "-6", "route").stdout
    assert "otl7" not in sh("tc", "-n", site.router, "qdisc").stdout
    assert "100.64.0.1/32" not in sh("ip", "-n", site.router, "addr").stdout
    # Of the shared shaper only what belongs to no line is left: the class of unclassified traffic.
    classes = sh("tc", "-n", site.router, "class", "show", "dev", SHAPER).stdout.splitlines()
    assert [row.split()[2] for row in classes] == ["1:ffff"]
    assert "flowid" not in sh("tc", "-n", site.router, "filter", "show", "dev", SHAPER).stdout
    assert "eth0" not in sh("ip", "-n", site.cpe, "link").stdout, "the customer side loses its link"


async def test_second_apply_and_plan_on_a_converged_router_change_nothing(site: Site) -> None:
    beside = replace(site.spec(), ifname="otl8", port=LinePort.veth(), ipv4=IPv4Address("100.64.0.11"))
    lines = [site.spec(state=LineState.WALLED), replace(beside, ipv6_prefix=None)]
    async with site.driver() as router:
        first = await router.apply(lines, prune=True)
        again = await router.apply(lines, prune=True)
        planned = await router.plan(lines, prune=True)
    assert first.created == ["otl7", "otl8"] and first.ok, first.failed
    assert (again.created, again.updated, again.removed, again.drift, again.unchanged) == ([], [], [], {}, 2)
    assert not planned.changed and planned.drift == {} and planned.unchanged == 2


async def test_plan_changes_nothing(site: Site) -> None:
    async with site.driver() as router:
        planned = await router.plan([site.spec()], prune=True)
        assert planned.created == ["otl7"] and planned.drift == {"otl7": ["missing interface"]}
        assert await router.read() == {}
    assert "otl7" not in sh("ip", "-n", site.router, "link").stdout


async def test_deleted_interface_is_reported_missing_and_made_again(site: Site) -> None:
    async with site.driver() as router:
        await router.apply([site.spec()], prune=True)
        sh("ip", "-n", site.router, "link", "del", "otl7")
        drift = await router.plan([site.spec()], prune=True)
        assert drift.drift == {"otl7": ["missing interface"]} and drift.created == ["otl7"]
        repaired = await router.apply([site.spec()], prune=True)
        assert repaired.created == ["otl7"] and repaired.ok, repaired.failed
        assert not (await router.plan([site.spec()], prune=True)).changed
    site.configure_cpe()
    assert site.reaches(ELSEWHERE)


async def test_shaping_changed_or_deleted_by_hand_is_reported_and_repaired(site: Site) -> None:
    change = ("qdisc", "change", "dev", "otl7", "root", "handle", "2:", "tbf", "rate", "1mbit", "burst", "32kb")
    async with site.driver() as router:
        await router.apply([site.spec()], prune=True)
        sh("tc", "-n", site.router, *change, "latency", "200ms")
        drift = await router.plan([site.spec()], prune=True)
        assert drift.drift == {"otl7": ["down rate 1000 kbit, want 20000"]}
        assert (await router.apply([site.spec()], prune=True)).updated == ["otl7"]
        assert "rate 20Mbit" in sh("tc", "-n", site.router, "qdisc", "show", "dev", "otl7").stdout

        sh("tc", "-n", site.router, "qdisc", "del", "dev", "otl7", "root")
        sh("tc", "-n", site.router, "qdisc", "del", "dev", "otl7", "ingress")
        # The IPv4 filters of the shaper (its table, the link to it, the line's classifier) deleted:
        sh("tc", "-n", site.router, "filter", "del", "dev", SHAPER, "parent", "1:", "protocol", "ip", "prio", "10")
        drift = await router.plan([site.spec()], prune=True)
        assert drift.drift == {
            "otl7": [
                "down shaping missing",
                "upstream shaper incomplete",
                "upstream classifier for 100.64.0.10/32 missing",
                "upstream redirect missing",
            ]
        }
        repaired = await router.apply([site.spec()], prune=True)
        assert repaired.updated == ["otl7"] and repaired.ok, repaired.failed
        assert not (await router.plan([site.spec()], prune=True)).changed

        # The whole shaper gone: the line finds none of its own, and the shaper is made again.
        sh("ip", "-n", site.router, "link", "del", SHAPER)
        drift = await router.plan([site.spec()], prune=True)
        assert drift.drift == {"otl7": ["upstream shaper missing", "upstream redirect missing"]}
        repaired = await router.apply([site.spec()], prune=True)
        assert repaired.updated == ["otl7"] and repaired.ok, repaired.failed
        assert not (await router.plan([site.spec()], prune=True)).changed


async def test_walled_filter_removed_by_hand_is_reported_and_repaired(site: Site) -> None:
    walled = site.spec(state=LineState.WALLED)
    async with site.driver() as router:
        await router.apply([walled], prune=True)
        sh("tc", "-n", site.router, "filter", "del", "dev", "otl7", "parent", "1:", "prio", "1")
        drift = await router.plan([walled], prune=True)
        assert drift.drift == {"otl7": ["walled filter missing (down)"]}
        await router.apply([walled], prune=True)
        assert not (await router.plan([walled], prune=True)).changed
    site.configure_cpe()
    assert site.reaches(str(PORTAL)) and not site.reaches(ELSEWHERE)


async def test_vxlan_line_carries_traffic(site: Site) -> None:
    sh("ip", "-n", site.router, "link", "add", "ul0", "type", "veth", "peer", "name", "ul1", "netns", site.cpe)
    sh("ip", "-n", site.router, "addr", "add", "10.254.0.1/30", "dev", "ul0")
    sh("ip", "-n", site.router, "link", "set", "ul0", "up")
    sh("ip", "-n", site.cpe, "addr", "add", "10.254.0.2/30", "dev", "ul1")
    sh("ip", "-n", site.cpe, "link", "set", "ul1", "up")
    cpe_vxlan = ("id", "4242", "local", "10.254.0.2", "remote", "10.254.0.1", "dev", "ul1", "dstport", "4789")
    sh("ip", "-n", site.cpe, "link", "add", "wan0", "type", "vxlan", *cpe_vxlan)
    port = LinePort.vxlan(vni=4242, local=IPv4Address("10.254.0.1"), remote=IPv4Address("10.254.0.2"), underlay="ul0")
    spec = replace(site.spec(), port=port)
    async with site.driver() as router:
        report = await router.apply([spec], prune=True)
        assert report.created == ["otl7"] and report.ok, report.failed
        assert (await router.read())["otl7"].port == port
        assert not (await router.plan([spec], prune=True)).changed
    site.configure_cpe("wan0")
    assert site.reaches(ELSEWHERE)
    down = site.goodput_kbps(sender=site.router, receiver=site.cpe, address=str(SUBSCRIBER), seconds=2)
    assert 16_000 <= down <= 24_000, f"down {down:.0f} kbit/s on a 20,000 kbit/s VXLAN line"


async def test_prune_removes_only_our_unwanted_interfaces(site: Site) -> None:
    sh("ip", "-n", site.router, "link", "add", "keepme0", "type", "veth", "peer", "name", "keepme1")
    sh("ip", "-n", site.router, "link", "add", "otl99", "type", "veth", "peer", "name", "stray1")
    other = replace(site.spec(), ifname="otl8", port=LinePort.veth(), ipv4=IPv4Address("100.64.0.11"), ipv6_prefix=None)
    async with site.driver() as router:
        await router.apply([site.spec(), other], prune=False)
        kept = await router.apply([site.spec()], prune=False)
        assert kept.removed == [] and set(await router.read()) == {"otl7", "otl8", "otl99"}
        pruned = await router.apply([site.spec()], prune=True)
    assert pruned.removed == ["otl8", "otl99"] and pruned.unchanged == 1 and pruned.ok, pruned.failed
    links = sh("ip", "-n", site.router, "link").stdout
    assert "keepme0" in links and "keepme1" in links
    assert "otl8" not in links and "otu8" not in links and "otl99" not in links and "otl7" in links


async def test_vlan_line_is_built_but_refused_by_a_kernel_without_8021q(site: Site) -> None:
    sh("ip", "-n", site.router, "link", "add", "trunk0", "type", "veth", "peer", "name", "trunk1")
    spec = replace(site.spec(), port=LinePort.vlan(parent="trunk0", vlan_id=1234))
    async with site.driver() as router:
        report = await router.apply([spec], prune=True)
    assert report.created == [] and list(report.failed) == ["otl7"]
    assert report.failed["otl7"][0].startswith("create vlan otl7: "), report.failed
    links = sh("ip", "-n", site.router, "link").stdout
    assert "otl7" not in links and "otu7" not in links, "a line that could not be made leaves nothing behind"
