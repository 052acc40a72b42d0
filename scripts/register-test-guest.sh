#!/usr/bin/env bash
# Builds the test guest (scripts/build-test-guest.sh) and registers it with a running Welkin as
# three images: its kernel, its initramfs and a small qcow2 disk that boots with them and reports
# itself up with "welkin-guest ready". Prints the disk image's id, which templates then name.
#   usage: WELKIN_URL=http://127.0.0.1:8080 WELKIN_TOKEN=... scripts/register-test-guest.sh [GUEST_DIR]
# The token must carry images-write (developer or provider-admin; data/admin.token is one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
url=${WELKIN_URL:-http://127.0.0.1:8080}
token=${WELKIN_TOKEN:?set WELKIN_TOKEN to a token with the images-write permission}
dir=${1:-${TMPDIR:-/tmp}/welkin-test-guest}

"$here/build-test-guest.sh" "$dir" >&2
disk=$(mktemp --suffix=.qcow2)
trap 'rm -f "$disk"' EXIT
qemu-img create -q -f qcow2 "$disk" 64M

upload() { # FILE NAME -> image id
    curl -sfS -X POST "$url/api/v1/images?name=$2" -H "Authorization: Bearer $token" \
        -H "Content-Type: application/octet-stream" --data-binary "@$1" | jq -r .id
}
kernel=$(upload "$dir/vmlinuz" test-guest-kernel)
ramdisk=$(upload "$dir/initrd.gz" test-guest-initrd)
image=$(upload "$disk" test-guest)
curl -sfS -X PUT "$url/api/v1/images/$image/boot" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
    -d "{\"kernelImageId\":\"$kernel\",\"ramdiskImageId\":\"$ramdisk\",\"readyMarker\":\"welkin-guest ready\"}" >/dev/null
echo "register-test-guest: kernel $kernel, ramdisk $ramdisk, bootable disk $image" >&2
echo "$image"
