"""API routes for the SNMP device inventory and the line ports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.auth.deps import OperatorDep, SessionDep, SettingsDep, StaffDep
from app.kit.validation import IdPath
from network.health import incidents, service
from network.health.models import Device, DeviceStatus
from network.health.schemas import (
    DeviceCreate,
    DeviceOut,
    DeviceStatusOut,
    DeviceUpdate,
    IncidentCommentCreate,
    IncidentCommentOut,
    IncidentDetailOut,
    IncidentOut,
    LinePortOut,
    LinePortSet,
)

router = APIRouter()
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found"}}


def device_out(device: Device, status: DeviceStatus) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        name=device.name,
        kind=device.kind,
        host=device.host,
        port=device.port,
        router_id=device.router_id,
        snmp_version=device.snmp_version,
        v3_user=device.v3_user,
        auth_protocol=device.auth_protocol,
        priv_protocol=device.priv_protocol,
        poll_interval_s=device.poll_interval_s,
        timeout_ms=device.timeout_ms,
        retries=device.retries,
        is_active=device.is_active,
        status=DeviceStatusOut.model_validate(status),
    )


@router.get("/devices", response_model=list[DeviceOut], tags=["devices"])
async def list_devices(actor: StaffDep, session: SessionDep) -> list[DeviceOut]:
    return [device_out(device, status) for device, status in await service.list_devices(session)]


@router.post("/devices", response_model=DeviceOut, status_code=201, tags=["devices"])
async def create_device(
    actor: OperatorDep, session: SessionDep, settings: SettingsDep, data: DeviceCreate
) -> DeviceOut:
    """Add a device to poll; its SNMP secrets are stored sealed and never returned."""
    device = await service.create_device(session, actor=actor, settings=settings, data=data)
    return device_out(*await service.get_device(session, device_id=device.id))


@router.get("/devices/{device_id}", response_model=DeviceOut, tags=["devices"], responses=NOT_FOUND)
async def get_device(actor: StaffDep, session: SessionDep, device_id: IdPath) -> DeviceOut:
    return device_out(*await service.get_device(session, device_id=device_id))


@router.patch("/devices/{device_id}", response_model=DeviceOut, tags=["devices"], responses=NOT_FOUND)
async def update_device(
    actor: OperatorDep, session: SessionDep, settings: SettingsDep, device_id: IdPath, data: DeviceUpdate
) -> DeviceOut:
    await service.update_device(session, actor=actor, settings=settings, device_id=device_id, data=data)
    return device_out(*await service.get_device(session, device_id=device_id))


@router.put("/devices/{device_id}/lines", response_model=LinePortOut, tags=["devices"], responses=NOT_FOUND)
async def set_line_port(actor: OperatorDep, session: SessionDep, device_id: IdPath, data: LinePortSet) -> LinePortOut:
    """Record that a line runs over this device's interface ``if_index`` (moving it if it had another)."""
    return LinePortOut.model_validate(await service.set_line_port(session, actor=actor, device_id=device_id, data=data))


def incident_out(view: incidents.IncidentView) -> IncidentOut:
    i = view.incident
    return IncidentOut(
        id=i.id,
        kind=i.kind,
        severity=i.severity,
        device_id=i.device_id,
        device_name=view.device_name,
        if_index=i.if_index,
        summary=i.summary,
        started_at=i.started_at,
        ended_at=i.ended_at,
        duration_s=round(incidents.duration_s(i), 1),
        acknowledged_at=i.acknowledged_at,
        acknowledged_by=i.acknowledged_by,
        lines=view.lines,
    )


async def _detail(session: SessionDep, incident_id: int) -> IncidentDetailOut:
    found = await incidents.get_incident(session, incident_id=incident_id)
    summary = incident_out(incidents.IncidentView(found.incident, found.device_name, len(found.line_ids)))
    return IncidentDetailOut(
        **summary.model_dump(),
        line_ids=found.line_ids,
        comments=[IncidentCommentOut.model_validate(c) for c in found.comments],
    )


@router.get("/incidents", response_model=list[IncidentOut], tags=["incidents"])
async def list_incidents(actor: StaffDep, session: SessionDep, open_only: bool = False) -> list[IncidentOut]:
    """Open incidents first (the longest-running on top), then ended ones, newest first."""
    return [incident_out(v) for v in await incidents.list_incidents(session, open_only=open_only)]


@router.get("/incidents/{incident_id}", response_model=IncidentDetailOut, tags=["incidents"], responses=NOT_FOUND)
async def get_incident(actor: StaffDep, session: SessionDep, incident_id: IdPath) -> IncidentDetailOut:
    return await _detail(session, incident_id)


@router.post(
    "/incidents/{incident_id}/acknowledge", response_model=IncidentDetailOut, tags=["incidents"], responses=NOT_FOUND
)
async def acknowledge_incident(actor: OperatorDep, session: SessionDep, incident_id: IdPath) -> IncidentDetailOut:
    await incidents.acknowledge(session, actor=actor, incident_id=incident_id)
    return await _detail(session, incident_id)


@router.post(
    "/incidents/{incident_id}/comments",
    response_model=IncidentDetailOut,
    status_code=201,
    tags=["incidents"],
    responses=NOT_FOUND,
)
async def comment_incident(
    actor: OperatorDep, session: SessionDep, incident_id: IdPath, data: IncidentCommentCreate
) -> IncidentDetailOut:
    await incidents.comment(session, actor=actor, incident_id=incident_id, text=data.text)
    return await _detail(session, incident_id)
