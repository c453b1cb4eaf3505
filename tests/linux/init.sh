#!/bin/busybox sh
# PID 1 of Aerie's Linux guest initramfs (built by `cargo xtask build` into
# target/aerie/linux-initramfs.cpio; source: tests/linux/).
#
# Kernel command-line words it obeys:
#   aerie.bench=boot   print the first line, then power off at once (boot benchmark)
#   aerie.bench=disk   time direct reads and writes of /dev/vda, one
#                      `disk-bench:` line each, then power off (disk benchmark;
#                      with aerie.disk_reads=N only N reads of 4 KiB; with
#                      aerie.idle_only=NAME every cpuidle state but NAME off)
#   aerie.check=1      run /etc/aerie/check.sh (integration tests), then power off
#   aerie.tools=1      run /etc/aerie/tools.sh (the VMware guest tools), then power off
#   aerie.alive=SECS   print "<hostname>-alive <n>" every second, n = 1..SECS,
#                      then power off
#   aerie.readdisk=1   with aerie.alive: meanwhile four readers read /dev/vda
#                      end to end, over and over (disk traffic beside other
#                      VMs, requests from two vCPUs at once)
#   aerie.disk=MODE    MODE write or verify: /etc/aerie/disk-restart.sh, then power off
#   aerie.panic=once   /etc/aerie/panic-once.sh: crash the kernel unless the disk
#                      says it already did, then power off (use with panic=1)
#   aerie.ip=ADDR/LEN  bring eth0 (the VM's network card) up with this address
#   aerie.ip=dhcp      or with what a DHCP server on its network offers
#                      (address, gateway, name servers)
#   aerie.gw=ADDR      and route everything else through ADDR
#   aerie.dns=ADDR     the name server (/etc/resolv.conf)
#   aerie.net=MODE     MODE serve or a peer's address: /etc/aerie/net.sh, then
#                      power off (aerie.peer=ADDR: the sender, for serve)
#   aerie.name=NAME    hostname (default "aerie")
#   aerie.kallsyms=1   print the kernel's and the modules' text symbols
#                      between "kallsyms: begin" and "kallsyms: end" lines,
#                      then power off (`cargo xtask profile net` names with them)
# Without any of them: a shell on the console (busybox init); `poweroff` or the
# VM's power button ends it.

# The first line, before anything else: the boot benchmark takes the guest
# virtual counter printed here as "instructions since the VM started".
/bin/aerie-counter || /bin/busybox echo "initramfs: started"

bb=/bin/busybox
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
$bb mount -t proc proc /proc
read -r cmdline < /proc/cmdline
case " $cmdline " in
*" aerie.bench=boot "*) $bb poweroff -f ;;
esac

# arg NAME: prints the value of NAME=VALUE on the kernel command line; fails if absent.
arg() {
    for w in $cmdline; do
        case "$w" in "$1="*)
            echo "${w#*=}"
            return 0
            ;;
        esac
    done
    return 1
}

# wait_vda: waits up to 2 s for the disk's device node; fails if it never
# comes (no disk, or no virtio_blk).
wait_vda() {
    i=0
    while [ ! -b /dev/vda ] && [ $i -lt 20 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -b /dev/vda ]
}

# counter, counter_freq: the guest's virtual counter now, and its
# frequency (from aerie-counter's line).
counter() {
    c=$(aerie-counter)
    c=${c#*cntvct=}
    echo "${c%% *}"
}
counter_freq() {
    c=$(aerie-counter)
    echo "${c#*cntfrq=}"
}

$bb --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
while read -r m; do
    insmod "$m" || echo "initramfs: insmod $m failed"
done < /etc/aerie/modules
hostname "$(arg aerie.name || echo aerie)"
ip link set lo up
if [ "$(arg aerie.ip)" = dhcp ]; then
    udhcpc -i eth0 -n -q -t 5 -s /etc/aerie/udhcpc.script 2> /dev/null ||
        echo "initramfs: eth0: no DHCP lease"
elif addr=$(arg aerie.ip); then
    ip addr add "$addr" dev eth0 && ip link set eth0 up || echo "initramfs: eth0 $addr failed"
    if gw=$(arg aerie.gw); then
        ip route add default via "$gw" || echo "initramfs: route via $gw failed"
    fi
fi
if dns=$(arg aerie.dns); then
    echo "nameserver $dns" > /etc/resolv.conf
fi

if arg aerie.kallsyms >/dev/null; then
    echo "kallsyms: begin"
    grep ' [tTwW] ' /proc/kallsyms
    echo "kallsyms: end"
    poweroff -f
fi
if arg aerie.check >/dev/null; then
    . /etc/aerie/check.sh
    poweroff -f
fi
if [ "$(arg aerie.bench)" = disk ]; then
    wait_vda
    # aerie.idle_only=NAME: the guest idles only in the state of that name
    # (cargo xtask profile disk_power_down).
    if only=$(arg aerie.idle_only); then
        for state in /sys/devices/system/cpu/cpu*/cpuidle/state*; do
            [ "$(cat "$state/name")" = "$only" ] || echo 1 > "$state/disable"
        done
    fi
    freq=$(counter_freq)
    # Each pass: direct I/O (no page cache), one request at a time.
    # aerie.disk_reads=N: only N reads of 4 KiB (cargo xtask profile disk).
    if reads=$(arg aerie.disk_reads); then
        set -- "read 4k $reads"
    else
        # Three rounds: the benchmark takes each pass's median.
        set -- "read 4k 2048" "read 512k 64" "write 512k 64" \
            "read 4k 2048" "read 512k 64" "write 512k 64" \
            "read 4k 2048" "read 512k 64" "write 512k 64"
    fi
    for pass in "$@"; do
        set -- $pass
        if [ "$1" = read ]; then
            io="if=/dev/vda of=/dev/null iflag=direct"
        else
            io="if=/dev/zero of=/dev/vda oflag=direct"
        fi
        t0=$(counter)
        # shellcheck disable=SC2086
        dd $io bs="$2" count="$3" 2>/dev/null || echo "disk-bench: dd $1 failed"
        t1=$(counter)
        echo "disk-bench: $1 bs=$2 count=$3 from cntvct=$t0 to cntvct=$t1 cntfrq=$freq"
    done
    poweroff -f
fi
if disk_mode=$(arg aerie.disk); then
    . /etc/aerie/disk-restart.sh
    poweroff -f
fi
if arg aerie.tools >/dev/null; then
    . /etc/aerie/tools.sh
    poweroff -f
fi
if net_mode=$(arg aerie.net); then
    . /etc/aerie/net.sh
    poweroff -f
fi
if arg aerie.panic >/dev/null; then
    . /etc/aerie/panic-once.sh
    poweroff -f
fi
if secs=$(arg aerie.alive); then
    if [ "$(arg aerie.readdisk)" = 1 ]; then
        wait_vda
        # O_DIRECT: every pass goes to the disk, not the page cache.
        for reader in 1 2 3 4; do
            ( while dd if=/dev/vda of=/dev/null bs=512k iflag=direct 2>/dev/null; do :; done ) &
        done
    fi
    # Once a second, so a test can see this VM kept running while others
    # rebooted or crashed.
    n=1
    while [ $n -le "$secs" ]; do
        sleep 1
        echo "$(hostname)-alive $n"
        n=$((n + 1))
    done
    poweroff -f
fi

# The power button (gpio-keys' KEY_POWER) shuts the VM down cleanly, as
# systemd-logind would: QEMU's system_powerdown natively, Ctrl-A b or the
# machine's power button under Aerie. aerie-powerkey returns once the key
# is watched and leaves a child that runs poweroff on the press.
aerie-powerkey || echo "initramfs: the power button does nothing"
echo "initramfs: Linux $(uname -r) on $(nproc) CPUs; 'poweroff' ends the VM"
# busybox init respawns the console shell (/etc/inittab) and turns poweroff and
# reboot into the PSCI calls that end or restart this VM.
exec /bin/busybox init
