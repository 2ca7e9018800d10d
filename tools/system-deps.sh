#!/usr/bin/env bash
# Debian packages the project needs on a fresh machine; installs only what is missing.
#   tools/system-deps.sh run    what `make run` needs (WeasyPrint's libraries, fonts)
#   tools/system-deps.sh test   plus the real servers and tools the tests use
set -euo pipefail
profile=${1:-run}

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo

packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core python3-venv)
if [ "$profile" = test ]; then
  packages+=(chromium postgresql poppler-utils iputils-ping iproute2 freeradius freeradius-postgresql freeradius-utils debootstrap sip-tester snmpd snmp)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$profile" = test ]; then
  # Debian's freeradius package enables and starts its own server (all addresses, UDP 1812/1813 and
  # 127.0.0.1:18120) with /etc/freeradius/3.0. Ours runs from deploy/freeradius (tools/freeradius.py) on
  # 127.0.0.1:1812/1813 for `make services`, so the packaged one is stopped and kept from starting again.
  if [ -d /run/systemd/system ]; then
    if systemctl is-enabled --quiet freeradius.service 2>/dev/null || systemctl is-active --quiet freeradius.service; then
      echo "stopping and disabling Debian's freeradius.service (ours runs from deploy/freeradius)"
      $SUDO systemctl disable --now freeradius.service
    fi
  elif [ -x /etc/init.d/freeradius ] && /etc/init.d/freeradius status >/dev/null 2>&1; then
    echo "stopping Debian's freeradius init service (ours runs from deploy/freeradius)"
    $SUDO /etc/init.d/freeradius stop
    $SUDO update-rc.d freeradius disable >/dev/null
  fi
  # Debian's snmpd package may start its own agent on 127.0.0.1:161 with /etc/snmp/snmpd.conf. Ours run
  # per instance from deploy/snmpd (tools/snmpd.py) on ports of their own, so the packaged one is stopped.
  if [ -d /run/systemd/system ]; then
    if systemctl is-enabled --quiet snmpd.service 2>/dev/null || systemctl is-active --quiet snmpd.service; then
      echo "stopping and disabling Debian's snmpd.service (ours run from deploy/snmpd)"
      $SUDO systemctl disable --now snmpd.service
    fi
  elif [ -x /etc/init.d/snmpd ] && /etc/init.d/snmpd status >/dev/null 2>&1; then
    echo "stopping Debian's snmpd init service (ours run from deploy/snmpd)"
    $SUDO /etc/init.d/snmpd stop
    $SUDO update-rc.d snmpd disable >/dev/null
  fi
fi
