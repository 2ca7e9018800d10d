#!/usr/bin/env bash
# Start or stop the real servers around openTelecom for running the stack by hand, on the PostgreSQL
# database named by OPENTELECOM_DATABASE_URL. Today that is PostgreSQL itself and the schema;
# FreeRADIUS, Asterisk, snmpd and the router namespace join as their capabilities land.
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:-start}
: "${OPENTELECOM_DATABASE_URL:?set OPENTELECOM_DATABASE_URL to a postgresql+asyncpg:// URL}"
case "$OPENTELECOM_DATABASE_URL" in
  postgresql*|postgres*) ;;
  *) echo "make services runs against PostgreSQL; OPENTELECOM_DATABASE_URL is $OPENTELECOM_DATABASE_URL" >&2; exit 2 ;;
esac

case "$action" in
  start)
    tools/postgres.sh
    .venv/bin/python -m tools.ensure_database
    .venv/bin/opentelecom db upgrade
    echo "services up: PostgreSQL (schema migrated)"
    ;;
  stop)
    echo "services stopped (PostgreSQL is the machine's own server and keeps running)"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
