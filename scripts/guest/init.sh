#!/bin/busybox sh
# /init of the Welkin test guest (busybox-static + Debian kernel modules)
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /run /www /etc/acpi/PWRF /var/log
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
# hostname from kernel cmdline: vmname=NAME (default: guest)
NAME=guest
for a in $(cat /proc/cmdline); do case "$a" in vmname=*) NAME="${a#vmname=}";; esac; done
hostname "$NAME"
# drivers: virtio-pci, virtio-net, balloon, ACPI power button (order = dependency order)
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_mmio \
         failover net_failover virtio_net virtio_balloon virtio_blk button evdev qemu_fw_cfg; do
  insmod /lib/modules/$m.ko || echo "INSMOD-FAIL $m"
done
echo "GUEST-UP $NAME"
# network: QEMU user-mode (slirp) defaults: guest 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3;
# welkin.ip=ADDRESS/PREFIX,GATEWAY on the command line replaces them (Welkin gives each machine its own subnet)
ADDR=10.0.2.15/24; GW=10.0.2.2
for a in $(cat /proc/cmdline); do case "$a" in welkin.ip=*) v="${a#welkin.ip=}"; ADDR="${v%%,*}"; GW="${v#*,}";; esac; done
ip link set lo up
if ip link set eth0 up 2>/dev/null; then
  ip addr add "$ADDR" dev eth0
  ip route add default via "$GW"
  echo "NET-UP eth0 $(ip -4 -o addr show eth0 | awk '{print $4}')"
fi
# tenant networks: welkin.nic=MAC,ADDRESS/PREFIX per NIC (Welkin allocates both)
for a in $(cat /proc/cmdline); do
  case "$a" in welkin.nic=*)
    spec="${a#welkin.nic=}"; mac="${spec%%,*}"; addr="${spec#*,}"
    for dev in /sys/class/net/*; do
      if [ "$(cat $dev/address)" = "$mac" ]; then
        ifc=$(basename $dev); ip link set "$ifc" up; ip addr add "$addr" dev "$ifc"
        echo "NIC-UP $ifc $mac $addr"
      fi
    done;;
  esac
done
for b in /sys/block/vd*; do [ -e "$b" ] && echo "DISK $(basename $b) $(cat $b/size) sectors"; done
# HTTP server on :80
echo "hello from $NAME" > /www/index.html
httpd -p 80 -h /www && echo "HTTPD-UP :80"
# ACPI power button (QMP system_powerdown) -> clean poweroff
printf '#!/bin/sh\necho "GUEST-POWERDOWN $(hostname)"\nsync\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -d -c /etc/acpi >/dev/console 2>&1 &
echo "ACPID-UP"
# configuration properties Welkin offers as the firmware configuration file opt/welkin/properties (JSON)
props=/sys/firmware/qemu_fw_cfg/by_name/opt/welkin/properties/raw
[ -r "$props" ] && echo "PROPERTIES $(cat "$props")"
# devices hot-plugged from here on are reported as they come and go (the list is taken before
# the ready line, since Welkin may plug a device as soon as it sees that line)
disks=$(ls /sys/block | grep '^vd' | tr '\n' ' ')
echo "welkin-guest ready $NAME $(ip -4 -o addr show eth0 2>/dev/null | awk '{print $4}')"
case " $(cat /proc/cmdline) " in *" diag "*) sleep 1; ls -l /dev/input; cat /proc/bus/input/devices; ps;; esac
# heartbeat counter (proves liveness across pause/migration); welkin.ping=ADDRESS on the
# command line adds a reachability line per tick (proves which machines share an L2 segment)
# welkin.poweroff-after=N makes the guest shut itself down after N ticks (a guest-initiated power-off)
PINGS=""; POWEROFF_AFTER=""
for a in $(cat /proc/cmdline); do case "$a" in
  welkin.ping=*) PINGS="$PINGS ${a#welkin.ping=}";;
  welkin.poweroff-after=*) POWEROFF_AFTER="${a#welkin.poweroff-after=}";;
esac; done
i=0
while true; do
  i=$((i+1)); echo "TICK $i $(cut -d' ' -f1 /proc/uptime)"
  if [ "$i" = "$POWEROFF_AFTER" ]; then echo "GUEST-POWEROFF $NAME"; sync; poweroff -f; fi
  now=$(ls /sys/block | grep '^vd' | tr '\n' ' ')
  if [ "$now" != "$disks" ]; then
    for d in $now; do case " $disks " in *" $d "*) ;; *) echo "DISK-ADDED $d $(cat /sys/block/$d/size) sectors";; esac; done
    for d in $disks; do case " $now " in *" $d "*) ;; *) echo "DISK-REMOVED $d";; esac; done
    disks=$now
  fi
  for p in $PINGS; do
    if ping -c 1 -W 1 "$p" >/dev/null 2>&1; then echo "PING $p ok"; else echo "PING $p fail"; fi
  done
  sleep 1
done
