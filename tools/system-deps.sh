#!/usr/bin/env bash
# Debian packages the project needs on a fresh machine; installs only what is missing.
#   tools/system-deps.sh run    what `make run` needs (WeasyPrint's libraries, fonts)
#   tools/system-deps.sh test   plus the real servers and tools the tests use
set -euo pipefail
profile=${1:-run}

packages=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core python3-venv)
if [ "$profile" = test ]; then
  packages+=(chromium postgresql poppler-utils iputils-ping iproute2 freeradius freeradius-postgresql freeradius-utils)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
