# The VMware guest tools against Aerie's backdoor, sourced by /init when the
# command line has aerie.tools=1 (the VM config gives the VM a backdoor:
# `cargo xtask run --guest linux-tools`). Every line starts with "tools: ";
# the test asserts on them.

# The second boot, after Ctrl-A r restarted the guest through its tools (at
# the end of the first): only the tools daemon, for the final Ctrl-A h. The
# VM's guestinfo outlives a guest restart, so it tells the boots apart.
if [ "$(vmware-rpctool 'info-get guestinfo.aerie-boot' 2>/dev/null)" = first ]; then
    vmware-rpctool "info-set guestinfo.aerie-boot second" > /dev/null 2>&1
    echo "tools: restarted through the tools"
    vmtoolsd -b /tmp/vmtoolsd.pid
    sleep 5
    echo "tools: waiting for the halt"
    sleep 30
    echo "tools: no halt came"
    return
fi
vmware-rpctool "info-set guestinfo.aerie-boot first" > /dev/null 2>&1

out=$(vmware-checkvm 2>&1)
echo "tools: checkvm rc=$? $out"
vmware-rpctool "info-set guestinfo.greeting hello" > /dev/null 2>&1
echo "tools: info-set rc=$?"
echo "tools: info-get=$(vmware-rpctool 'info-get guestinfo.greeting' 2>&1)"
# A key the VM config set (guestinfo.configured = "from-config").
echo "tools: configured=$(vmware-rpctool 'info-get guestinfo.configured' 2>&1)"
echo "tools: unknown=$(vmware-rpctool 'no-such-command' 2>&1; echo " rc=$?")"
# A value near the store's 4 KiB bound: the reply comes back through the
# high-bandwidth channel into a buffer vmware-rpctool has just allocated.
big=$(printf '%04000d' 7)
vmware-rpctool "info-set guestinfo.big $big" > /dev/null 2>&1
got=$(vmware-rpctool 'info-get guestinfo.big' 2>&1)
echo "tools: big rc=$? len=${#got}"
# Replies into buffers Linux has not made writable yet (untouched, zero
# page, copy-on-write after fork): Aerie's high-bandwidth write fails with
# the retry hint and message.c's retry goes over low bandwidth.
echo "tools: $(aerie-hbpages)"
# Host facts as vmware-toolbox-cmd reads them through the backdoor: the CPU
# speed (GETMHZ: Aerie reports the counter frequency) and the host's time
# (GETTIMEFULL: Aerie's wall clock, from the host's PL031).
echo "tools: speed $(vmware-toolbox-cmd stat speed 2>&1)"
echo "tools: hosttime $(vmware-toolbox-cmd stat hosttime 2>&1)"
# The Guest API's statistics (guestlib.info.get 3): the session, the VM's
# memory as its limit and reservation, no CPU limit, nothing ballooned.
for s in sessionid memlimit memres cpulimit cpures balloon swap; do
    echo "tools: stat $s $(vmware-toolbox-cmd stat $s 2>&1) rc=$?"
done
# A version report by hand (vmtoolsd's own, below, replaces it).
vmware-rpctool "tools.set.version 12451" > /dev/null 2>&1
echo "tools: set-version rc=$?"
# A log line (with an escape character, which Aerie's console shows escaped).
vmware-rpctool "log from the guest $(printf '\033')[31mred" > /dev/null 2>&1
echo "tools: log rc=$?"
# A DCC read that is not a backdoor request, and a BRK, from user space: the
# guest kernel's signals, as on hardware (SIGILL = 4, SIGTRAP = 5).
aerie-dcc
echo "tools: plain dcc rc=$?"
aerie-brk
echo "tools: brk rc=$?"
# A debugger in user space (steps, breakpoint, watchpoint through ptrace):
# with the BRK transport on, every debug exception goes through Aerie.
echo "tools: $(aerie-ptrace)"
# A kprobe in the guest kernel: its BRK from EL1 and the single step of the
# probed instruction go through Aerie's re-injection like any other.
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
t=/sys/kernel/tracing
if echo 'p:aerie_probe vfs_write' > $t/kprobe_events &&
    echo 1 > $t/events/kprobes/aerie_probe/enable; then
    for i in 1 2 3; do echo "probe $i" > /dev/null; done
    echo 0 > $t/events/kprobes/aerie_probe/enable
    echo "tools: kprobe hits=$(grep -c 'aerie_probe:' $t/trace)"
else
    echo "tools: kprobe unavailable"
fi
# The tools daemon, as a Debian guest runs it (open-vm-tools.service): it
# checks for the hypervisor, opens its channels and reports its version,
# capabilities and guest information, which Aerie records (Ctrl-A i, checked
# by the test). Its own log goes to /tmp/vmsvc.log (/etc/vmware-tools/tools.conf).
vmtoolsd -b /tmp/vmtoolsd.pid
echo "tools: vmtoolsd started rc=$?"
sleep 5
if kill -0 "$(cat /tmp/vmtoolsd.pid)" 2>/dev/null; then
    echo "tools: vmtoolsd running"
else
    echo "tools: vmtoolsd gone"
fi
sed 's/^/tools: vmsvc: /' /tmp/vmsvc.log
# The network report vmtoolsd's guestInfo plugin sends at its polls, sent
# now: Aerie keeps the NICs, the default route and the resolver (Ctrl-A i).
vmware-toolbox-cmd info update network > /dev/null 2>&1
echo "tools: network report rc=$?"
# Wait for a line on the console (the test types Ctrl-A i, then Enter), so
# Aerie's view is printed while the VM still runs; go on after 20 s anyway.
echo "tools: waiting for the console view"
read -t 20 line
echo "tools: done"
# Now the test types Ctrl-A r: Aerie asks vmtoolsd for OS_Reboot over TCLO,
# and the tools restart the guest (shutdown -r now), which boots into the
# second-boot branch above. Without that, this script gives up after 30 s
# and /init powers off instead.
echo "tools: waiting for a power operation"
sleep 30
echo "tools: no power operation came"
