"""The board's audit log page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
