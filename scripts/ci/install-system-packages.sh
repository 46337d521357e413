#!/usr/bin/env bash
# Installs the real SIP peers, the browser and the databases the test suite drives.
# Skips apt entirely when every package is already installed (reruns, pre-baked images).
set -euo pipefail
packages=(sip-tester baresip-core sipvicious nftables iproute2 chromium kamailio kamailio-tls-modules mariadb-server mariadb-client openssl ca-certificates git python3 make g++)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "all system packages present: ${packages[*]}"
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
