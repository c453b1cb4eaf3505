# Aerie's Linux guest: panic the kernel once, sourced by /init when the
# command line has aerie.panic=once (integration test `linux-panic-isolated`).
# Boot it with `panic=1`: Linux then restarts 1 s after the panic (PSCI
# SYSTEM_RESET, which Aerie answers by reloading this VM alone).
#
# Sector 0 of /dev/vda remembers the panic across that restart: the first boot
# writes "AERIE-PANICKED" there and crashes the kernel
# (`echo c > /proc/sysrq-trigger`, a NULL dereference in sysrq's handler); the
# second finds it, prints "panic-test: already panicked once; powering off"
# and powers off (init.sh).

panic_marker() {
    dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\000' | head -n 1
}

i=0
while [ ! -b /dev/vda ] && [ $i -lt 20 ]; do
    sleep 0.1
    i=$((i + 1))
done
if [ ! -b /dev/vda ]; then
    echo "panic-test: no /dev/vda to remember the panic in; powering off"
elif [ "$(panic_marker)" = AERIE-PANICKED ]; then
    echo "panic-test: already panicked once; powering off"
else
    # Flushed before the crash: the restart must find it.
    echo AERIE-PANICKED | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null
    echo "panic-test: panicking the kernel (echo c > /proc/sysrq-trigger)"
    echo c > /proc/sysrq-trigger
    echo "panic-test: still alive after the sysrq crash"
fi
