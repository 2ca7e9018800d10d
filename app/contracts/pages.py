"""Pages about contracts (operator console)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
