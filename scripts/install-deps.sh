#!/usr/bin/env bash
# Installs the Debian packages Welkin's tests need; safe to run again and again.
#   postgresql  - server binaries for the PostgreSQL provider tests (a private cluster per test class)
#   qemu-utils  - qemu-img for disk image conversion
#   qemu-system-x86 - qemu-system-x86_64, the QEMU compute driver's hypervisor (TCG)
#   busybox-static  - the test guest's userland (scripts/build-test-guest.sh)
#   jq          - the CLI walkthrough (docs/walkthrough-table1.md) reads ids from JSON with it
#   fonts-dejavu-core - DejaVu Sans Condensed, the typeface of invoice PDFs (docs/api-billing.md)
#   prosody     - the XMPP server the federation client tests log in to (a private instance per test)
#   python3-slixmpp - an independent XMPP client the federation client tests talk to (run by /usr/bin/python3)
#   ejabberd    - a second XMPP server the federation client tests log in to (a private instance per test;
#                 the system service the package enables is disabled)
#   librdf0 librasqal3 libraptor2-0 - Redland: the RDF store, SPARQL engine and parsers a cloud's service
#                 description is queried with (bound in process through P/Invoke)
#   libapache-jena-java default-jre-headless - Apache Jena, the independent RDF parser and SPARQL engine
#                 the tests cross-check Welkin's descriptions and answers against
#   awscli s3cmd rclone - three real S3 clients (each signing with its own code) the S3 face's tests run
#   chromium    - the browser the portal's tests drive through Playwright (/usr/bin/chromium; Playwright
#                 never downloads one)
# Add a package by adding it to PACKAGES.
set -euo pipefail

PACKAGES=(postgresql qemu-utils qemu-system-x86 busybox-static jq curl fonts-dejavu-core prosody python3-slixmpp ejabberd
    librdf0 librasqal3 libraptor2-0 libapache-jena-java default-jre-headless awscli s3cmd rclone chromium novnc)

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# The ejabberd package enables a system service; tests run private instances only. Works without systemd.
disable_system_ejabberd() {
    installed ejabberd && [ "$(id -u)" -eq 0 ] && command -v systemctl >/dev/null || return 0
    if systemctl is-enabled --quiet ejabberd 2>/dev/null; then
        systemctl disable ejabberd >/dev/null 2>&1 || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl stop ejabberd >/dev/null 2>&1 || true
    fi
}

missing=()
for package in "${PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
    disable_system_ejabberd
    echo "install-deps: all present (${PACKAGES[*]})"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Update the package lists only when apt does not know a candidate for every missing package.
needs_update() {
    local package
    for package in "$@"; do
        apt-cache policy "$package" 2>/dev/null | grep -Eq 'Candidate: [^(]' || return 0
    done
    return 1
}

if needs_update "${missing[@]}"; then
    apt-get update -qq
fi

echo "install-deps: installing ${missing[*]}"
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    # Lists can be stale (a mirror dropped an old version): refresh once and retry.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
disable_system_ejabberd
