"""Create the database named in OPENTELECOM_DATABASE_URL if it does not exist (PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
from urllib.parse import urlsplit

import asyncpg


async def main() -> None:
    url = os.environ["OPENTELECOM_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    connection = await asyncpg.connect(admin)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
