#!/usr/bin/env bash
# Installs the Debian packages the test suite needs. Idempotent: installs only what is missing,
# and touches apt only when something is. Later capabilities add their packages to PACKAGES.
set -euo pipefail

PACKAGES=(
  # node-gyp builds better-sqlite3 from source when its prebuilt binary cannot be downloaded
  build-essential
  python3
  ca-certificates
  # container engine: Podman's Docker-compatible API, and busybox to build test images locally
  podman
  runc
  containernetworking-plugins
  iptables
  busybox-static
  tar
  # Podman's init for compose `init: true` (Docker ships its own, docker-init)
  catatonit
  # Docker Engine (dockerd 20.10 with its containerd), which most users run: the tests start it
  # on a private socket, data root and exec root; mmdebstrap builds Debian root filesystems for
  # the images `datamancy images build` makes here (no image can be pulled)
  docker.io
  mmdebstrap
  # browser service: Debian's Chromium (never a downloaded browser) and fonts for screenshots
  chromium
  chromium-headless-shell
  # certutil: Chromium trusts the edge CA (NODE_EXTRA_CA_CERTS) through an NSS database
  libnss3-tools
  fonts-dejavu-core
  fonts-liberation
  # the store's PostgreSQL option, tested against a real server (initdb/pg_ctl, no service)
  postgresql
  # SSH operations: a real sshd for the forced-command wrapper tests
  openssh-server
  openssh-client
  # probe: OCR of screenshots; discovery: `caddy adapt` proves parsed Caddyfiles are real ones
  tesseract-ocr
  tesseract-ocr-eng
  caddy
  # the stack: a real slapd loads the rendered LDIF, passlib checks Authelia's client digests
  # independently, promtool checks the rendered Prometheus configuration
  slapd
  ldap-utils
  python3-passlib
  prometheus
  # speech gateway: its local backends (text-to-speech, and speech-to-text with a grammar)
  espeak-ng
  pocketsphinx
  pocketsphinx-en-us
  # speech gateway: ffmpeg decodes mp3/ogg/webm/mp4/flac uploads and encodes mp3/opus/aac/flac
  # answers; its tests prove it opens nothing but the upload it was handed
  ffmpeg
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-system: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages with daemons (slapd, postgresql, sshd, prometheus) must not start them: the tests
# start their own on free loopback ports. policy-rc.d exit 101 tells invoke-rc.d "not now".
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup-system: done"
