# The VMware guest tools against Aerie's DCC backdoor, sourced by /init when
# the command line has aerie.tools=1 (Aerie booted with aerie.backdoor=1).
# Every line starts with "tools: "; the test asserts on them.

out=$(vmware-checkvm 2>&1)
echo "tools: checkvm rc=$? $out"
vmware-rpctool "info-set guestinfo.greeting hello" > /dev/null 2>&1
echo "tools: info-set rc=$?"
echo "tools: info-get=$(vmware-rpctool 'info-get guestinfo.greeting' 2>&1)"
echo "tools: unknown=$(vmware-rpctool 'no-such-command' 2>&1; echo " rc=$?")"
# A DCC read that is not a backdoor request, and a BRK, from user space: the
# guest kernel's signals, as on hardware (SIGILL = 4, SIGTRAP = 5).
aerie-dcc
echo "tools: plain dcc rc=$?"
aerie-brk
echo "tools: brk rc=$?"
