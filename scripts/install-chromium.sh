#!/usr/bin/env bash
# Browser journeys drive Debian's Chromium through playwright-core; Playwright's own
# browser download is not reachable here, so the system package is the only source.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
else
  as_root=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq chromium >/dev/null
echo "installed $(/usr/bin/chromium --version)"
