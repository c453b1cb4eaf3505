# Aerie's Linux guest checks, sourced by /init when the command line has
# aerie.check=1. Every line starts with "check: "; the last one is
# "check: RESULT PASS" or "check: RESULT FAIL <why>", then the VM powers off.
#
# The disk check spans two boots: the first writes a marker and data to
# /dev/vda and reboots (PSCI SYSTEM_RESET), the second reads them back. The
# marker's boot count says which boot this is (odd = written, verify now), so
# the check also works on a disk that kept a marker from an earlier run.

fail=""
failed() {
    fail="${fail:+$fail; }$1"
    echo "check: FAIL $1"
}

n=$(nproc)
echo "check: nproc=$n"

# Timer: sleep must return, and the clock must have moved by at least 1 s.
t0=$(awk '{ print int($1 * 100) }' /proc/uptime)
sleep 1
t1=$(awk '{ print int($1 * 100) }' /proc/uptime)
if [ $((t1 - t0)) -ge 100 ]; then
    echo "check: sleep ok ($((t1 - t0))0 ms)"
else
    failed "sleep 1 took $((t1 - t0))0 ms of uptime"
fi

# Time of day: the kernel set its clock from the RTC at boot (rtc-pl031,
# CONFIG_RTC_HCTOSYS), so the date is today's, not 1970's; the test
# compares it with the host's.
now=$(date +%s)
rtc=$(cat /sys/class/rtc/rtc0/name 2>/dev/null || echo none)
if [ "$now" -gt 1700000000 ]; then
    echo "check: date $now (rtc0: $rtc)"
else
    failed "the date is $(date -u) (rtc0: $rtc)"
fi

# The RTC can be set: `hwclock -w` writes the system time to it (the
# PL031's RTCLR), and the RTC then counts from there; the clock is put back
# after.
if [ -r /sys/class/rtc/rtc0/since_epoch ]; then
    t=$(date +%s)
    date -s "@$((t + 86400))" > /dev/null && hwclock -w -u
    ahead=$(($(cat /sys/class/rtc/rtc0/since_epoch) - t))
    date -s "@$(($(date +%s) - 86400))" > /dev/null && hwclock -w -u
    back=$(($(cat /sys/class/rtc/rtc0/since_epoch) - $(date +%s)))
    if [ "$ahead" -ge 86400 ] && [ "$ahead" -le 86410 ] && [ "${back#-}" -le 1 ]; then
        echo "check: rtc set ok (a day ahead: +$ahead s, back: $back s)"
    else
        failed "hwclock -w: the RTC read +$ahead s for a day ahead, $back s once back"
    fi
fi

# The RTC's alarm: Aerie gives the PL031 its interrupt (SPI 2), so Linux
# offers `wakealarm`. One set 2 s ahead must interrupt (rtc-pl031's count
# in /proc/interrupts rises) and be spent (wakealarm reads empty again).
if [ -w /sys/class/rtc/rtc0/wakealarm ]; then
    rtc_irqs() {
        awk '/pl031/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s; exit }' /proc/interrupts
    }
    before=$(rtc_irqs)
    echo 0 > /sys/class/rtc/rtc0/wakealarm
    echo +2 > /sys/class/rtc/rtc0/wakealarm
    waited=0
    while [ "$(rtc_irqs)" = "$before" ] && [ $waited -lt 6 ]; do
        sleep 1
        waited=$((waited + 1))
    done
    after=$(rtc_irqs)
    left=$(cat /sys/class/rtc/rtc0/wakealarm)
    if [ "${after:-0}" -gt "${before:-0}" ] && [ -z "$left" ]; then
        echo "check: rtc alarm ok (interrupts $before -> $after after ${waited} s)"
    else
        failed "rtc alarm: interrupts ${before:-none} -> ${after:-none} after ${waited} s, wakealarm '$left'"
    fi
else
    failed "rtc alarm: no /sys/class/rtc/rtc0/wakealarm"
fi

# CPU idle: Aerie publishes PSCI idle states in the DT and Linux's
# cpuidle-psci enters them; QEMU's own DT has none (no cpuidle directory).
# One line: each state's entries and rejections summed over the CPUs (a
# power-down that returns instead of waking at its entry point is a
# rejection).
if [ -d /sys/devices/system/cpu/cpu0/cpuidle ]; then
    line=""
    for s in /sys/devices/system/cpu/cpu0/cpuidle/state*; do
        st=${s##*/}
        used=0
        rejected=0
        for c in /sys/devices/system/cpu/cpu[0-9]*; do
            used=$((used + $(cat "$c/cpuidle/$st/usage")))
            rejected=$((rejected + $(cat "$c/cpuidle/$st/rejected")))
        done
        line="$line $(cat "$s/name")=$used/$rejected"
    done
    echo "check: cpuidle (entries/rejected)$line"
else
    echo "check: cpuidle none"
fi

# cpufreq: Aerie gives every vCPU an SCMI clock and the operating points to
# go with it; cpufreq-dt makes one policy per vCPU. QEMU alone has none.
if [ -d /sys/devices/system/cpu/cpufreq/policy0 ]; then
    p=/sys/devices/system/cpu/cpufreq/policy0
    echo "check: cpufreq policies=$(ls -d /sys/devices/system/cpu/cpufreq/policy* | wc -l) driver=$(cat $p/scaling_driver) governor=$(cat $p/scaling_governor) freqs=$(cat $p/scaling_available_frequencies) cur=$(cat $p/scaling_cur_freq)"
else
    echo "check: cpufreq none"
fi

# Performance caps: with cpu0's clock at its slowest operating point
# (the performance governor pinned to scaling_max_freq), Aerie lets vCPU 0
# run only that share of a pCPU; the same busy loop pinned to cpu0 takes
# correspondingly longer than at the fastest one.
spin_cs() {
    t0=$(awk '{ print int($1 * 100) }' /proc/uptime)
    taskset -c 0 sh -c 'i=0; while [ $i -lt 30000 ]; do i=$((i + 1)); done'
    t1=$(awk '{ print int($1 * 100) }' /proc/uptime)
    echo $((t1 - t0))
}
# cpu0's stolen time so far (/proc/stat, centiseconds): what Aerie reports
# through its stolen-time record (Arm's paravirtualized time).
steal_cs() {
    awk '$1 == "cpu0" { print $9 }' /proc/stat
}
p=/sys/devices/system/cpu/cpufreq/policy0
if [ -w $p/scaling_max_freq ]; then
    gov=$(cat $p/scaling_governor)
    lo=$(cat $p/cpuinfo_min_freq)
    hi=$(cat $p/cpuinfo_max_freq)
    echo performance > $p/scaling_governor
    echo "$lo" > $p/scaling_max_freq
    s0=$(steal_cs)
    slow=$(spin_cs)
    s1=$(steal_cs)
    echo "$hi" > $p/scaling_max_freq
    fast=$(spin_cs)
    s2=$(steal_cs)
    echo "$gov" > $p/scaling_governor
    echo "check: cpufreq cap: cpu0 at $lo kHz ${slow}0 ms, at $hi kHz ${fast}0 ms"
    echo "check: steal: cpu0 at $lo kHz $(((s1 - s0) * 10)) ms of ${slow}0 ms, at $hi kHz $(((s2 - s1) * 10)) ms of ${fast}0 ms"
fi
# Stolen time: Linux found Aerie's records (SMCCC PV_TIME_*). Then a busy
# loop pinned to every CPU at once: with more vCPUs than pCPUs Aerie's
# scheduler takes turns, and the guest counts the waits as steal.
if dmesg | grep -q "arm-pv: using stolen time PV"; then
    echo "check: stolen time from the hypervisor"
    n=$(nproc)
    all_steal() {
        awk '$1 ~ /^cpu[0-9]/ { s += $9 } END { print s }' /proc/stat
    }
    s0=$(all_steal)
    t0=$(awk '{ print int($1 * 100) }' /proc/uptime)
    i=0
    while [ $i -lt "$n" ]; do
        taskset -c $i sh -c 'j=0; while [ $j -lt 20000 ]; do j=$((j + 1)); done' &
        i=$((i + 1))
    done
    wait
    t1=$(awk '{ print int($1 * 100) }' /proc/uptime)
    s1=$(all_steal)
    echo "check: steal under load: $(((s1 - s0) * 10)) ms of $(((t1 - t0) * 10 * n)) ms on $n CPUs"
fi

# A debugger in user space: single steps, a hardware breakpoint and a
# watchpoint through ptrace (tests/linux/ptrace.c), as gdb would use them.
if out=$(aerie-ptrace); then
    echo "check: $out"
else
    failed "aerie-ptrace: $out"
fi

# virtio console: a line written to /dev/hvc0 reaches the console through the
# virtio-mmio console device only (the PL011 never sees it); the test looks
# for it. QEMU run natively has no virtio console: that is not a failure here.
if [ -c /dev/hvc0 ]; then
    echo "hvc0: hello from the virtio console" > /dev/hvc0
    echo "check: hvc0 written"
else
    echo "check: hvc0 none (no /dev/hvc0)"
fi

# IPIs: waking CPU i to run a pinned task needs a reschedule IPI; field 39 of
# /proc/self/stat is the CPU the task ran on.
i=0
bad=0
while [ $i -lt "$n" ]; do
    cpu=$(taskset -c $i awk '{ print $39 }' /proc/self/stat)
    if [ "$cpu" != "$i" ]; then
        failed "taskset -c $i ran on cpu '$cpu'"
        bad=1
    fi
    i=$((i + 1))
done
[ $bad = 0 ] && echo "check: taskset ok (cpus 0..$((n - 1)))"

# The interrupt controller Linux drives (GICv3, or GIC-0 for a GICv2), as
# the timer's line in /proc/interrupts names it, and the reschedule IPIs
# (SGIs) its CPUs took.
chip=$(awk '/arch_timer/ { for (i = 2; i <= NF; i++) if ($i !~ /^[0-9]+$/) { print $i; exit } }' /proc/interrupts)
ipis=$(awk '/Rescheduling/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s; exit }' /proc/interrupts)
echo "check: irqchip ${chip:-none}, ${ipis:-no} reschedule IPIs"

marker() {
    dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\000' | head -n 1
}

# write_marker BOOT SUM: sector 0 of the disk.
write_marker() {
    printf 'AERIE-CHECK boot=%s md5=%s\n' "$1" "$2" | dd of=/dev/vda bs=512 count=1 conv=sync 2>/dev/null
}

if [ -e /sys/block/vda ]; then
    wait_vda
    echo "check: disk vda sectors=$(cat /sys/block/vda/size)"
    m=$(marker)
    boot=0
    sum=""
    case "$m" in
    "AERIE-CHECK boot="*)
        set -- $m
        boot=${2#boot=}
        sum=${3#md5=}
        ;;
    esac
    if [ $((boot % 2)) = 1 ]; then
        got=$(dd if=/dev/vda bs=4096 skip=1 count=64 2>/dev/null | md5sum | cut -d' ' -f1)
        if [ "$got" = "$sum" ]; then
            echo "check: disk ok (boot $((boot + 1)) read back what boot $boot wrote)"
        else
            failed "disk: read md5 $got, boot $boot wrote $sum"
        fi
        write_marker $((boot + 1)) "$sum"
        sync
    elif [ -z "$fail" ]; then
        token=$(cat /proc/sys/kernel/random/uuid)
        yes "$token" | head -c 262144 > /tmp/data
        sum=$(md5sum < /tmp/data | cut -d' ' -f1)
        dd if=/tmp/data of=/dev/vda bs=4096 seek=1 conv=fsync 2>/dev/null
        write_marker $((boot + 1)) "$sum"
        sync
        echo "check: disk wrote boot=$((boot + 1)) md5=$sum; rebooting"
        reboot -f
    fi
else
    echo "check: disk none (no /dev/vda)"
fi

if [ -z "$fail" ]; then
    echo "check: RESULT PASS"
else
    echo "check: RESULT FAIL $fail"
fi
sync
