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
    # FreeRADIUS reads the same database as the app: name, host, port and user from the URL.
    read -r database db_host db_port db_user < <(.venv/bin/python -c '
import os
from sqlalchemy.engine import make_url
url = make_url(os.environ["OPENTELECOM_DATABASE_URL"])
print(url.database, url.host or "127.0.0.1", url.port or 5432, url.username or "postgres")')
    # Restarts ours if it runs (pid file in build/); refuses with a clear message if anything else holds
    # the ports (Debian's packaged freeradius service: tools/system-deps.sh test disables it).
    .venv/bin/python -m tools.freeradius start --database "$database" --db-host "$db_host" --db-port "$db_port" \
      --db-user "$db_user" --listen 127.0.0.1 --auth-port 1812 --acct-port 1813
    echo "services up: PostgreSQL (schema migrated), FreeRADIUS on 127.0.0.1:1812/1813"
    ;;
  stop)
    .venv/bin/python -m tools.freeradius stop
    echo "services stopped (PostgreSQL is the machine's own server and keeps running)"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
