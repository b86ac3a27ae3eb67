#!/usr/bin/env bash
# System packages the slow suites need, installed from Debian when missing.
# nats-server (Debian 2.9.10) for replication tests. Where apt-get cannot run,
# install nats-server yourself and put it on PATH (or set NATS_SERVER=path).
# chromium (Debian's, at /usr/bin/chromium) for the web page's tests, driven by
# playwright-core: never a browser download.
set -u
need=()
if [ -z "${NATS_SERVER:-}" ] && ! command -v nats-server >/dev/null 2>&1; then need+=(nats-server); fi
if [ ! -x /usr/bin/chromium ]; then need+=(chromium); fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "test/setup-system.sh: installing ${need[*]} from Debian" >&2
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "cannot install ${need[*]}: need root and apt-get. Install them (e.g. 'apt-get install -y ${need[*]}') and rerun." >&2
  exit 1
fi
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >&2 || {
  echo "apt-get install ${need[*]} failed; install them by hand and rerun." >&2
  exit 1
}
