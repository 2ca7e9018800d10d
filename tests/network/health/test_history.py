"""Interface history: each poll lands in a 5-minute, an hourly and a daily bucket; old buckets are pruned by
resolution, so an interface never holds more than ROWS_PER_INTERFACE rows. Health rules on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.settings import Settings
from network.health import history, rules, service
from network.health.models import ConditionKind, DeviceInterface, HealthState, InterfaceHistory
from network.health.schemas import Credentials, DeviceCreate
from tests.builders import OPERATOR

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 30, 10, 0, 30, tzinfo=UTC)


def _interface(
    device_id: int, *, in_bps: int, out_bps: int, up: bool = True, snr: int | None = None
) -> DeviceInterface:
    return DeviceInterface(
        device_id=device_id,
        if_index=7,
        name="port7",
        in_bps=in_bps,
        out_bps=out_bps,
        oper_up=up,
        snr_margin_down_tenth_db=snr,
        sampled_at=T0,
        state_since=T0,
    )


async def _device(session: AsyncSession, settings: Settings) -> int:
    device = await service.create_device(
        session,
        actor=OPERATOR,
        settings=settings,
        data=DeviceCreate(
            name="dslam-history", kind="dslam", host="192.0.2.99", credentials=Credentials(version="v2c", community="c")
        ),
    )
    return device.id


async def _buckets(session: AsyncSession, device_id: int) -> dict[tuple[int, datetime], InterfaceHistory]:
    rows = await session.scalars(sa.select(InterfaceHistory).where(InterfaceHistory.device_id == device_id))
    return {(row.resolution_s, row.bucket_start): row for row in rows}


async def test_polls_add_up_in_their_buckets_with_means_maxima_uptime_and_lowest_margin(
    db_session: AsyncSession, settings: Settings
) -> None:
    device_id = await _device(db_session, settings)
    polls = [
        (T0, _interface(device_id, in_bps=1000, out_bps=100, snr=95)),
        (T0 + timedelta(minutes=2), _interface(device_id, in_bps=3000, out_bps=300, up=False, snr=41)),
        (T0 + timedelta(minutes=6), _interface(device_id, in_bps=500, out_bps=50, snr=None)),
    ]
    for at, row in polls:
        await history.add(db_session, device_id=device_id, at=at, interfaces=[row], indexes={7})

    buckets = await _buckets(db_session, device_id)
    first_five = buckets[(300, datetime(2026, 11, 30, 10, 0, tzinfo=UTC))]
    second_five = buckets[(300, datetime(2026, 11, 30, 10, 5, tzinfo=UTC))]
    hour = buckets[(3600, datetime(2026, 11, 30, 10, 0, tzinfo=UTC))]
    day = buckets[(86400, datetime(2026, 11, 30, tzinfo=UTC))]
    assert len(buckets) == 4
    assert (first_five.samples, first_five.in_bps_sum, first_five.in_bps_max, first_five.up_samples) == (
        2,
        4000,
        3000,
        1,
    )
    assert first_five.snr_margin_down_min_tenth_db == 41
    assert (second_five.samples, second_five.out_bps_sum, second_five.snr_margin_down_min_tenth_db) == (1, 50, None)
    for whole in (hour, day):
        assert (whole.samples, whole.in_bps_sum, whole.out_bps_max, whole.up_samples) == (3, 4500, 300, 2)
        assert whole.snr_margin_down_min_tenth_db == 41


async def test_pruning_keeps_each_resolution_for_its_time_so_an_interface_stays_bounded(
    db_session: AsyncSession, settings: Settings
) -> None:
    device_id = await _device(db_session, settings)
    # Ten days of polls every 30 minutes: more 5-minute and hourly buckets than are kept.
    start = T0 - timedelta(days=10)
    at = start
    while at <= T0:
        await history.add(
            db_session, device_id=device_id, at=at, interfaces=[_interface(device_id, in_bps=8, out_bps=8)], indexes={7}
        )
        at += timedelta(minutes=30)

    dropped = await history.prune(db_session, now=T0)

    kept = await _buckets(db_session, device_id)
    by_resolution = {length: [start for (res, start) in kept if res == length] for length, _ in history.RESOLUTIONS}
    assert dropped > 0
    assert min(by_resolution[300]) >= T0 - timedelta(days=1)
    assert min(by_resolution[3600]) >= T0 - timedelta(days=8)
    assert len(by_resolution[86400]) == 11  # ten days and today: all kept
    assert len(kept) <= history.ROWS_PER_INTERFACE == 288 + 192 + 400


def test_rules_name_what_is_wrong_and_the_worst_finding_sets_the_state(settings: Settings) -> None:
    def kinds(**figures: object) -> list[ConditionKind]:
        defaults: dict[str, object] = {
            "admin_up": True,
            "oper_up": True,
            "snr_margin_down_db": 9.0,
            "errors_per_s": 0.0,
        }
        return [f.kind for f in rules.interface_findings(**(defaults | figures), settings=settings)]  # type: ignore[arg-type]

    assert kinds() == []
    assert kinds(oper_up=False) == [ConditionKind.INTERFACE_DOWN]
    assert kinds(admin_up=False, oper_up=False) == [ConditionKind.INTERFACE_DOWN]
    assert kinds(snr_margin_down_db=settings.health_snr_margin_min_db - 0.1) == [ConditionKind.SNR_MARGIN_LOW]
    assert kinds(snr_margin_down_db=settings.health_snr_margin_min_db) == []
    assert kinds(errors_per_s=settings.health_error_rate_max_per_s * 2, snr_margin_down_db=None) == [
        ConditionKind.ERROR_RATE
    ]
    unreachable = rules.device_findings(reachable=False, error="timeout", cpu_percent=None, settings=settings)
    busy = rules.device_findings(reachable=True, error=None, cpu_percent=99.0, settings=settings)
    assert [f.kind for f in unreachable + busy] == [ConditionKind.DEVICE_UNREACHABLE, ConditionKind.CPU_HIGH]
    assert rules.state_of([ConditionKind.SNR_MARGIN_LOW, ConditionKind.INTERFACE_DOWN]) is HealthState.DOWN
    assert rules.state_of([ConditionKind.ERROR_RATE]) is HealthState.DEGRADED
    assert rules.state_of([]) is HealthState.OK
