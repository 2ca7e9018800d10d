#!/usr/bin/env bash
# Build, once, the Debian unstable root that Asterisk 22 runs from (this Debian release has no Asterisk;
# DESIGN.md "Real components"). Later runs find the finished root and return at once.
#
#   tools/asterisk_root.sh          build it if it is missing; print where it is
#
# The root lives outside the working tree (about 400 MB), in OPENTELECOM_ASTERISK_ROOT, by default
# /var/cache/opentelecom/asterisk-root. It is built in a temporary directory beside it and renamed into
# place only when complete, with the marker file written last: an interrupted build leaves nothing that
# looks finished. Packages come from the Debian mirror this machine's apt already uses.
set -euo pipefail

root=${OPENTELECOM_ASTERISK_ROOT:-/var/cache/opentelecom/asterisk-root}
marker="$root/.opentelecom-complete"
# What the root is made of; a different recipe in the marker means the root is stale and is rebuilt.
packages=(asterisk asterisk-modules libpq5)
recipe="sid minbase ${packages[*]}"

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$recipe" ]; then
  echo "$root"
  exit 0
fi

# debootstrap, chroot and mount need root, as Asterisk inside the root does (DESIGN.md).
if [ "$(id -u)" -ne 0 ]; then
  echo "tools/asterisk_root.sh must run as root (debootstrap, chroot)" >&2
  exit 1
fi

# The first deb entry for this machine's own Debian suite, in either sources format: that is a Debian
# mirror reachable from here (a machine may also list third-party or security repositories).
debian_mirror() {
  local codename files=()
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  for f in "$@"; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 1
  awk -v codename="$codename" '
    function wanted(suite) { return suite == codename || suite == "stable" || suite == "testing" || suite == "unstable" || suite == "sid" }
    # One-line format: deb [options] URI suite components...
    /^[[:space:]]*deb[[:space:]]/ && FILENAME !~ /\.sources$/ {
      n = split($0, f, /[[:space:]]+/); i = 2
      while (i <= n && f[i] == "") i++
      if (f[i] ~ /^\[/) { while (i <= n && f[i] !~ /\]$/) i++; i++ }
      if (wanted(f[i + 1])) { print f[i]; exit }
      next
    }
    # deb822 format: stanzas separated by blank lines.
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[[:space:]]*$/) { types = uris = suites = ""; next }
      if ($0 ~ /^Types:/) types = $0
      if ($0 ~ /^URIs:/) uris = $2
      if ($0 ~ /^Suites:/) suites = $0
      if (types ~ /[[:space:]]deb([[:space:]]|$)/ && uris != "" && suites != "") {
        n = split(suites, s, /[[:space:]]+/)
        for (j = 2; j <= n; j++) if (wanted(s[j])) { print uris; exit }
        types = ""
      }
    }
  ' "${files[@]}"
}

mirror=${OPENTELECOM_DEBIAN_MIRROR:-$(debian_mirror /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources || true)}
if [ -z "$mirror" ]; then
  echo "no Debian mirror found in /etc/apt/sources.list{,.d/}; set OPENTELECOM_DEBIAN_MIRROR" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: run tools/system-deps.sh test" >&2; exit 1; }

parent=$(dirname "$root")
mkdir -p "$parent"

# Everything mounted below a directory, deepest first, so it can be unmounted before removal or rename.
mounts_under() {
  awk -v dir="$1" '$2 == dir || index($2, dir "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}
unmount_all() {
  local point
  for point in $(mounts_under "$1"); do umount -l "$point"; done
}
remove_tree() {
  [ -e "$1" ] || return 0
  unmount_all "$1"
  # --one-file-system: even a mount missed above (a /proc or /dev bind) is never descended into.
  rm -rf --one-file-system "$1"
}

# One build at a time (make test and make services may start together); the lock file stays beside it.
exec 9>"$parent/.$(basename "$root").lock"
flock 9
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$recipe" ]; then
  echo "$root"
  exit 0
fi

started=$(date +%s)
# Leftovers of an interrupted build; safe to remove while holding the lock.
for stale in "$root".tmp.*; do remove_tree "$stale"; done
work=$(mktemp -d "$root.tmp.XXXXXX")
trap 'remove_tree "$work"; rm -f "$work.log"' EXIT

echo "building the Asterisk root (Debian sid, minbase) in $work from $mirror"
debootstrap --variant=minbase sid "$work" "$mirror" >"$work.log" 2>&1 || {
  tail -n 30 "$work.log" >&2
  [ -f "$work/debootstrap/debootstrap.log" ] && tail -n 30 "$work/debootstrap/debootstrap.log" >&2
  rm -f "$work.log"
  exit 1
}
rm -f "$work.log"

# Package scripts must not start Asterisk inside the root with Debian's stock configuration (it would
# listen on every address); tools/asterisk.py starts it with ours.
printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
chmod 0755 "$work/usr/sbin/policy-rc.d"
mountpoint -q "$work/proc" || mount -t proc proc "$work/proc"
chroot "$work" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
  apt-get install -y -q --no-install-recommends "${packages[@]}" >"$work.log" 2>&1 || {
  tail -n 40 "$work.log" >&2
  rm -f "$work.log"
  exit 1
}
rm -f "$work.log"
chroot "$work" apt-get clean
unmount_all "$work"

# Asterisk needs these at run time; a root that lacks them is not finished.
for module in res_config_pgsql.so cdr_pgsql.so res_pjsip.so; do
  [ -n "$(find "$work/usr/lib" -name "$module" -print -quit)" ] || {
    echo "the root has no $module" >&2
    exit 1
  }
done

echo "$recipe" >"$work/.opentelecom-complete"
remove_tree "$root"
mv "$work" "$root"
trap - EXIT
echo "Asterisk root ready in $root ($(($(date +%s) - started)) s)"
echo "$root"
