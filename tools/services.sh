#!/usr/bin/env bash
# Start or stop the real servers around openTelecom for running the stack by hand, on the PostgreSQL
# database named by OPENTELECOM_DATABASE_URL: PostgreSQL and the schema, and FreeRADIUS with our
# configuration on 127.0.0.1:1812/1813 reading that database, and Asterisk 22 (from the cached Debian sid
# root, tools/asterisk_root.sh) with PJSIP on 127.0.0.1:5060 and AMI on 127.0.0.1:5038, snmpsim on
# 127.0.0.1:1162 (our DSLAM recording and snmpsim's walks of real devices) and net-snmp's snmpd: inside the
# demo router's namespace (OPENTELECOM_DEMO_ROUTER_NETNS) on its 127.0.0.1:161 when that namespace exists,
# otherwise in the host namespace on 127.0.0.1:1161.
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
    tools/asterisk_root.sh >/dev/null
    .venv/bin/python -m tools.asterisk start --database "$database" --db-host "$db_host" --db-port "$db_port" \
      --db-user "$db_user" --sip-port 5060 --ami-port 5038
    .venv/bin/python -m tools.snmpsim start --listen 127.0.0.1 --port 1162
    router_ns=${OPENTELECOM_DEMO_ROUTER_NETNS:-}
    if [ -n "$router_ns" ] && ip netns list | awk '{print $1}' | grep -qx "$router_ns"; then
      .venv/bin/python -m tools.snmpd start --netns "$router_ns" --listen 127.0.0.1 --port 161
      snmpd_where="snmpd in namespace $router_ns (127.0.0.1:161 there)"
    else
      .venv/bin/python -m tools.snmpd start --listen 127.0.0.1 --port 1161
      snmpd_where="snmpd on 127.0.0.1:1161 (no router namespace)"
    fi
    echo "services up: PostgreSQL (schema migrated), FreeRADIUS on 127.0.0.1:1812/1813, Asterisk (SIP 127.0.0.1:5060, AMI 127.0.0.1:5038), snmpsim on 127.0.0.1:1162, $snmpd_where"
    # The registration watcher of `opentelecom serve` reads AMI's user and (new each start) secret there.
    echo "phone registration status: export OPENTELECOM_ASTERISK_SERVER_FILE=${OPENTELECOM_ASTERISK_ROOT:-/var/cache/opentelecom/asterisk-root}/var/lib/opentelecom/asterisk/services/server.json"
    ;;
  stop)
    .venv/bin/python -m tools.freeradius stop
    .venv/bin/python -m tools.asterisk stop
    .venv/bin/python -m tools.snmpsim stop
    .venv/bin/python -m tools.snmpd stop
    echo "services stopped (PostgreSQL is the machine's own server and keeps running)"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
