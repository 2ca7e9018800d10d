#!/usr/bin/env bash
# Start or stop the real servers around openTelecom for running the stack by hand, on the PostgreSQL
# database named by OPENTELECOM_DATABASE_URL: PostgreSQL and the schema, and FreeRADIUS with our
# configuration on 127.0.0.1:1812/1813 reading that database. Asterisk and snmpd join with their issues.
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
    database=$(.venv/bin/python -c 'import os; from sqlalchemy.engine import make_url; print(make_url(os.environ["OPENTELECOM_DATABASE_URL"]).database)')
    .venv/bin/python -m tools.freeradius stop >/dev/null
    .venv/bin/python -m tools.freeradius start --database "$database"
    echo "services up: PostgreSQL (schema migrated), FreeRADIUS on 127.0.0.1:1812/1813"
    ;;
  stop)
    .venv/bin/python -m tools.freeradius stop
    echo "services stopped (PostgreSQL is the machine's own server and keeps running)"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
