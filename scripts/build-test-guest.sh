#!/usr/bin/env bash
# Builds Welkin's test guest without internet: the Debian kernel (from the package mirror) and a
# busybox initramfs whose /init (scripts/guest/init.sh) prints "GUEST-UP <vmname>", serves HTTP on
# port 80, powers off on the ACPI power button and prints "TICK n" each second.
#   usage: scripts/build-test-guest.sh OUTDIR
# Writes OUTDIR/vmlinuz and OUTDIR/initrd.gz. Reuses OUTDIR when a previous run completed
# (OUTDIR/guest.complete), so it is cheap to call before every test run.
# Needs busybox-static and dpkg-deb (scripts/install-deps.sh installs the former).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
init="$here/guest/init.sh"

# The completion mark names the inputs (this script and the init), so a change to either rebuilds.
inputs=$(cat "$0" "$init" | sha256sum | cut -c1-16)
if [ -f "$out/guest.complete" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ] && grep -q "inputs=$inputs" "$out/guest.complete"; then
    echo "build-test-guest: $out is complete ($(cat "$out/guest.complete"))"
    exit 0
fi

# busybox-static installs a statically linked /bin/busybox; the guest has no libc.
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "build-test-guest: busybox-static is not installed" >&2; exit 1; }

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The metapackage linux-image-amd64 depends on the current versioned kernel package.
kernel_package() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
# apt-get download runs as the _apt user when it can write the directory.
mkdir "$work/deb"
chmod 0755 "$work" && chmod 0777 "$work/deb"
package=$(kernel_package)
if [ -z "$package" ] || ! (cd "$work/deb" && apt-get download -qq "$package"); then
    # A bare machine may have no package lists yet, or stale ones (the mirror moved on): refresh once.
    apt-get update -qq
    package=$(kernel_package)
    [ -n "$package" ] || { echo "build-test-guest: no linux-image package known to apt" >&2; exit 1; }
    (cd "$work/deb" && apt-get download -qq "$package")
fi
mkdir "$work/kernel"
dpkg-deb --fsys-tarfile "$work"/deb/"$package"_*.deb \
    | tar -x -C "$work/kernel" --wildcards './boot/vmlinuz-*' '*/modules/*/kernel/drivers/*' '*/modules/*/kernel/net/core/*'
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* | head -n 1)

root="$work/root"
mkdir -p "$root/bin" "$root/lib/modules"
cp "$busybox" "$root/bin/busybox"
install -m 0755 "$init" "$root/init"

# The init loads these in dependency order; a module built into the kernel is simply absent.
for module in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_mmio \
              failover net_failover virtio_net virtio_balloon virtio_blk button evdev qemu_fw_cfg; do
    file=$(find "$work/kernel" -name "$module.ko*" | head -n 1)
    [ -n "$file" ] || continue
    case "$file" in
        *.ko.xz) xz -dc "$file" > "$root/lib/modules/$module.ko" ;;
        *.ko.zst) zstd -qdc "$file" > "$root/lib/modules/$module.ko" ;;
        *.ko.gz) gzip -dc "$file" > "$root/lib/modules/$module.ko" ;;
        *) cp "$file" "$root/lib/modules/$module.ko" ;;
    esac
done
[ -f "$root/lib/modules/virtio_net.ko" ] || { echo "build-test-guest: virtio_net module not found in $package" >&2; exit 1; }

# GNU cpio is not installed; busybox's cpio writes the newc format the kernel reads.
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -9) > "$work/initrd.gz"

# Write the outputs first and the completion mark last, so an interrupted run is redone.
rm -f "$out/guest.complete"
cp "$vmlinuz" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cp "$work/initrd.gz" "$out/initrd.gz.tmp" && mv "$out/initrd.gz.tmp" "$out/initrd.gz"
echo "$package inputs=$inputs" > "$out/guest.complete"
echo "build-test-guest: built $out from $package"
