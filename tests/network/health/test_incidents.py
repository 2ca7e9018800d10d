"""From recorded polls to incidents: a condition opens an incident once it has lasted, names the lines it
hit (all of a device's lines when the device stops answering), closes when a poll finds it gone; operators
acknowledge and annotate incidents; the board's availability counts the line-minutes lines were down.

The samples are built here (what the SNMP adapter returns); the adapter against real agents is tested in
tests/network/snmp and tests/network/health/test_polling.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.contracts.models import Contract
from app.kit.actor import Role
from app.kit.time import utcnow
from app.members.models import Member
from app.settings import Settings
from network.health import polling, reports, service
from network.health.models import ConditionKind, HealthState, Incident, IncidentLine
from network.health.schemas import Credentials, DeviceCreate, LinePortSet
from network.snmp.samples import DeviceSample, DslLineSample, DslMib, InterfaceSample
from provisioning import outages
from provisioning import service as provisioning
from provisioning.models import Line, OutageCompensation
from provisioning.outages import MonthDays, compensation_days
from tests.builders import OPERATOR, make_contract, make_member, make_plan, make_router, make_user, token_for
from tests.web.test_pages import csrf_of, web_login

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
OWNER = "test-poller"


def _port(index: int, *, up: bool = True, octets: int = 0) -> InterfaceSample:
    return InterfaceSample(
        index=index,
        name=f"port{index}",
        admin_status=1,
        oper_status=1 if up else 2,
        in_octets=octets,
        out_octets=octets,
        in_errors=0,
        out_errors=0,
        speed_mbps=100,
    )


def _sample(at: datetime, *, reachable: bool = True, snr_db: float = 9.0, seconds_up: int = 0) -> DeviceSample:
    if not reachable:
        return DeviceSample(
            address="192.0.2.50:161", taken_at=at, reachable=False, error="timeout", error_code="timeout"
        )
    dsl = DslLineSample(4, DslMib.VDSL2, 50_000_000, 10_000_000, 60_000_000, 12_000_000, snr_db, 8.0, 12.5, 9.0)
    octets = seconds_up * 125_000  # 1 Mbit/s
    return DeviceSample(
        address="192.0.2.50:161",
        taken_at=at,
        reachable=True,
        uptime_ticks=100 * (3600 + seconds_up),
        interfaces={3: _port(3, octets=octets), 4: _port(4, octets=octets)},
        dsl_lines={4: dsl},
    )


async def _setup(session: AsyncSession, settings: Settings) -> tuple[int, int, int]:
    router = await make_router(session)
    plan = await make_plan(session)
    lines = []
    for _ in range(2):
        member = await make_member(session, settings)
        contract = await make_contract(session, settings, member=member, plan=plan, active_from=None)
        line = await provisioning.provision_contract(
            session, actor=OPERATOR, settings=settings, contract_id=contract.id, router_id=router.id
        )
        lines.append(line.id)
    device = await service.create_device(
        session,
        actor=OPERATOR,
        settings=settings,
        data=DeviceCreate(
            name="dslam-sued", kind="dslam", host="192.0.2.50", credentials=Credentials(version="v2c", community="c")
        ),
    )
    for line_id, if_index in zip(lines, (3, 4), strict=True):
        await service.set_line_port(
            session, actor=OPERATOR, device_id=device.id, data=LinePortSet(line_id=line_id, if_index=if_index)
        )
    return device.id, lines[0], lines[1]


async def _record(session: AsyncSession, settings: Settings, device_id: int, sample: DeviceSample) -> None:
    leased = await service.claim(session, settings=settings, owner=OWNER, limit=10)
    assert [a.device_id for a in leased] == [device_id]
    assert await polling.record(session, settings=settings, owner=OWNER, device_id=device_id, sample=sample)


async def _incidents(session: AsyncSession, device_id: int) -> dict[ConditionKind, tuple[Incident, list[int]]]:
    found = {}
    for incident in await session.scalars(sa.select(Incident).where(Incident.device_id == device_id)):
        hit = await session.scalars(sa.select(IncidentLine.line_id).where(IncidentLine.incident_id == incident.id))
        found[incident.kind] = (incident, sorted(hit))
    return found


async def test_conditions_that_last_become_incidents_with_the_lines_hit_and_close_when_cleared(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    device_id, first, second = await _setup(db_session, settings)
    step = timedelta(minutes=5)

    await _record(db_session, settings, device_id, _sample(T0, snr_db=2.0))
    health = await service.line_health(db_session, line_ids=[first, second])
    assert (health[first].state, health[second].state) == (HealthState.OK, HealthState.DEGRADED)
    assert health[second].snr_margin_down_db == 2.0 and health[second].sync_down_kbps == 50_000
    assert await _incidents(db_session, device_id) == {}, "a condition opens an incident only once it lasted"

    await _record(db_session, settings, device_id, _sample(T0 + step, snr_db=2.0, seconds_up=300))
    incidents = await _incidents(db_session, device_id)
    snr, snr_lines = incidents[ConditionKind.SNR_MARGIN_LOW]
    assert (snr.started_at, snr.ended_at, snr.severity, snr_lines) == (T0, None, HealthState.DEGRADED, [second])

    await _record(db_session, settings, device_id, _sample(T0 + 2 * step, reachable=False))
    health = await service.line_health(db_session, line_ids=[first, second])
    assert health[first].state is HealthState.DOWN and health[second].state is HealthState.DOWN
    await _record(db_session, settings, device_id, _sample(T0 + 3 * step, reachable=False))
    unreachable, hit = (await _incidents(db_session, device_id))[ConditionKind.DEVICE_UNREACHABLE]
    assert (unreachable.started_at, unreachable.if_index, hit) == (T0 + 2 * step, 0, [first, second])
    assert "dslam-sued" in unreachable.summary

    await _record(db_session, settings, device_id, _sample(T0 + 4 * step, seconds_up=1200))
    incidents = await _incidents(db_session, device_id)
    assert incidents[ConditionKind.DEVICE_UNREACHABLE][0].ended_at == T0 + 4 * step
    assert incidents[ConditionKind.SNR_MARGIN_LOW][0].ended_at == T0 + 4 * step
    health = await service.line_health(db_session, line_ids=[first, second])
    assert {h.state for h in health.values()} == {HealthState.OK}
    assert all(h.open_incidents == () for h in health.values())

    # Operators work the incident through the API.
    headers = await token_for(client, await make_user(db_session, role=Role.OPERATOR))
    incident_id = unreachable.id
    listed = await client.get("/api/v1/incidents", headers=headers)
    acked = await client.post(f"/api/v1/incidents/{incident_id}/acknowledge", headers=headers)
    again = await client.post(f"/api/v1/incidents/{incident_id}/acknowledge", headers=headers)
    noted = await client.post(
        f"/api/v1/incidents/{incident_id}/comments", headers=headers, json={"text": "power cut at the cabinet"}
    )
    assert listed.status_code == 200 and {i["kind"] for i in listed.json()} >= {"device_unreachable", "snr_margin_low"}
    mine = next(i for i in listed.json() if i["id"] == incident_id)
    assert (mine["lines"], mine["duration_s"]) == (2, 600.0)
    assert acked.status_code == 200 and acked.json()["acknowledged_by"]
    assert again.status_code == 409 and again.json()["code"] == "already_acknowledged"
    assert noted.status_code == 201
    assert [c["text"] for c in noted.json()["comments"]] == ["power cut at the cabinet"]
    assert noted.json()["line_ids"] == [first, second]

    # The board: two lines watched, both down for 10 minutes in November (the SNR fault only impaired one).
    november = next(
        m
        for m in await reports.monthly(db_session, now=datetime(2026, 12, 1, tzinfo=UTC))
        if m.month == date(2026, 11, 1)
    )
    assert (november.lines, november.line_minutes, november.down_line_minutes) == (2, 2 * 30 * 1440, 20.0)
    assert november.availability_percent == round(100 * (1 - 20 / (2 * 30 * 1440)), 3)
    assert (november.incidents, november.repaired, november.mean_time_to_repair_s) == (2, 2, 900.0)


async def test_rates_come_from_counter_deltas_and_feed_the_history(
    db_session: AsyncSession, settings: Settings
) -> None:
    device_id, _, _ = await _setup(db_session, settings)
    await _record(db_session, settings, device_id, _sample(T0))
    await _record(db_session, settings, device_id, _sample(T0 + timedelta(minutes=5), seconds_up=300))

    rows = await db_session.execute(
        sa.text("SELECT if_index, in_bps, out_bps FROM device_interfaces WHERE device_id = :d ORDER BY if_index"),
        {"d": device_id},
    )
    assert [tuple(r) for r in rows] == [(3, 1_000_000, 1_000_000), (4, 1_000_000, 1_000_000)]
    buckets = await db_session.execute(
        sa.text(
            "SELECT resolution_s, samples, in_bps_sum FROM interface_history WHERE device_id = :d AND if_index = 3"
        ),
        {"d": device_id},
    )
    assert sorted(tuple(r) for r in buckets) == [(300, 1, 1_000_000), (3600, 1, 1_000_000), (86400, 1, 1_000_000)]


async def test_operators_see_and_work_incidents_on_the_console_and_the_board_sees_availability(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    device_id, _, _ = await _setup(db_session, settings)
    for n in range(2):
        await _record(db_session, settings, device_id, _sample(T0 + timedelta(minutes=5 * n), reachable=False))
    ((incident, _),) = (await _incidents(db_session, device_id)).values()
    incident_id = incident.id
    operator = await make_user(db_session, role=Role.OPERATOR)
    board = await make_user(db_session, role=Role.BOARD)
    operator_email, board_email = operator.email, board.email

    await web_login(client, operator_email)
    overview = await client.get("/console/health")
    page = await client.get(f"/console/incidents/{incident_id}")
    csrf = await csrf_of(client, f"/console/incidents/{incident_id}")
    acked = await client.post(f"/console/incidents/{incident_id}/acknowledge", data={"csrf": csrf})
    noted = await client.post(f"/console/incidents/{incident_id}/comments", data={"csrf": csrf, "text": "on site"})
    after = await client.get(f"/console/incidents/{incident_id}")

    assert overview.status_code == 200
    assert f'href="/console/incidents/{incident_id}"' in overview.text and "dslam-sued" in overview.text
    assert 'id="devices-down">1<' in overview.text
    assert 'id="lines-down">2<' in overview.text and overview.text.count('class="line-fault down"') == 2
    assert page.status_code == 200 and "Übernehmen</button>" in page.text and "no SNMP answer" in page.text
    assert (acked.status_code, noted.status_code) == (303, 303)
    assert operator_email in after.text and "on site" in after.text
    assert "Übernehmen</button>" not in after.text, "an acknowledged incident offers no second acknowledgement"

    client.cookies.clear()
    await web_login(client, board_email)
    reliability = await client.get("/board/network")
    assert reliability.status_code == 200
    assert "2026-11" in reliability.text and "Verfügbarkeit" in reliability.text


async def test_metrics_export_device_and_line_figures_in_prometheus_text_format(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    device_id, first, second = await _setup(db_session, settings)
    await _record(db_session, settings, device_id, _sample(T0, snr_db=2.0))
    await _record(db_session, settings, device_id, _sample(T0 + timedelta(minutes=5), snr_db=2.0, seconds_up=300))

    response = await client.get("/metrics")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert 'opentelecom_device_up{device="dslam-sued",kind="dslam"} 1' in lines
    assert 'opentelecom_device_state{device="dslam-sued",state="ok"} 1' in lines
    assert f'opentelecom_line_up{{line="{first}"}} 1' in lines
    assert f'opentelecom_line_traffic_bits_per_second{{line="{first}",direction="in"}} 1e+06' in lines
    assert f'opentelecom_line_snr_margin_decibels{{line="{second}",direction="down"}} 2' in lines
    assert f'opentelecom_line_sync_rate_bits_per_second{{line="{second}",direction="down"}} 5e+07' in lines
    assert 'opentelecom_incidents_open{severity="degraded"} 1' in lines
    assert "# TYPE opentelecom_snmp_polls counter" in lines
    # Every sample line is "name{labels} value" after its family's HELP and TYPE.
    samples = [line for line in lines if not line.startswith("#")]
    assert samples and all(re.fullmatch(r"[a-z_]+(\{[^}]*\})? -?[0-9.e+]+", line) for line in samples), samples


async def test_metrics_need_the_token_when_one_is_set(app: Any, settings: Settings) -> None:
    settings_with_token = settings.model_copy(update={"metrics_token": "scrape-secret-" + "x" * 20})
    from app.main import create_app

    application = create_app(settings_with_token, database=app.state.database, run_loops=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as scraper:
            refused = await scraper.get("/metrics")
            wrong = await scraper.get("/metrics", headers={"Authorization": "Bearer nope"})
            allowed = await scraper.get(
                "/metrics", headers={"Authorization": f"Bearer {settings_with_token.metrics_token}"}
            )
    assert (refused.status_code, wrong.status_code, allowed.status_code) == (401, 401, 200)


def test_outage_days_from_the_third_are_owed_split_by_rate_and_billing_month() -> None:
    start = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    assert compensation_days(start, start + timedelta(hours=47, minutes=59), zone="Europe/Berlin") == []
    assert compensation_days(start, start + timedelta(days=2, hours=1), zone="Europe/Berlin") == [
        MonthDays(date(2026, 11, 1), 1, 0)
    ]
    # Days 3 and 4 begin on 30 Nov and 1 Dec, days 5 and 6 on 2 and 3 Dec.
    assert compensation_days(start, start + timedelta(days=5, hours=12), zone="Europe/Berlin") == [
        MonthDays(date(2026, 11, 1), 1, 0),
        MonthDays(date(2026, 12, 1), 1, 2),
    ]


async def test_a_device_down_for_three_days_owes_each_hit_contract_its_compensation_days(
    db_session: AsyncSession, settings: Settings
) -> None:
    device_id, first, second = await _setup(db_session, settings)
    await _record(db_session, settings, device_id, _sample(T0, reachable=False))
    await _record(db_session, settings, device_id, _sample(T0 + timedelta(minutes=5), reachable=False))
    await _record(db_session, settings, device_id, _sample(T0 + timedelta(days=3, hours=1), seconds_up=60))

    contract_of = dict((await db_session.execute(sa.select(Line.id, Line.contract_id))).all())
    owed = {
        row.contract_id: row
        for row in await db_session.scalars(
            sa.select(OutageCompensation).where(OutageCompensation.line_id.in_([first, second]))
        )
    }
    assert set(owed) == {contract_of[first], contract_of[second]}
    for row in owed.values():
        assert (row.period, row.lower_rate_days, row.higher_rate_days) == (date(2026, 11, 1), 2, 0)
        assert (row.outage_started_at, row.outage_ended_at) == (T0, T0 + timedelta(days=3, hours=1))
    assert [c.lower_rate_days for c in await outages.compensations(db_session, contract_id=contract_of[first])] == [2]


async def test_the_member_sees_todays_traffic_and_a_seven_day_graph_of_their_line(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    device_id, first, _ = await _setup(db_session, settings)
    now = utcnow()
    await _record(db_session, settings, device_id, _sample(now - timedelta(minutes=10)))
    await _record(db_session, settings, device_id, _sample(now - timedelta(minutes=5), seconds_up=300))
    member_id = (
        await db_session.execute(
            sa.select(Contract.member_id).join(Line, Line.contract_id == Contract.id).where(Line.id == first)
        )
    ).scalar_one()
    user = await make_user(db_session, role=Role.MEMBER, member=await db_session.get(Member, member_id))
    email = user.email

    await web_login(client, email)
    page = await client.get("/portal/line")

    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert '<dd class="traffic-today-down">' in text
    # 1 Mbit/s each way for the five minutes between the polls: 37.5 MB (given a "now" on the same day).
    traffic = await service.line_traffic(db_session, line_id=first, zone="UTC", now=now - timedelta(minutes=4))
    assert traffic is not None
    if (now - timedelta(minutes=5)).date() == (now - timedelta(minutes=4)).date():
        assert (traffic.today_to_member_bytes, traffic.today_from_member_bytes) == (37_500_000, 37_500_000)
    svg = text[text.index("<svg") : text.index("</svg>")]
    assert "<polyline" in svg and "Datenverkehr der letzten 7 Tage" in svg
    assert "der höchste Wert war 1.0 Mbit/s" in svg
