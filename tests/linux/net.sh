# Aerie's network checks, sourced by /init when the command line has
# aerie.net=MODE (eth0 is already up with its aerie.ip address). Every line
# starts with "net: "; then the VM powers off.
#
#   aerie.net=serve   receive one file over TCP port 5001, print its size and
#                     MD5, answer "bye" on port 5002 so the sender knows it
#                     arrived, then stop
#   aerie.net=PEER    ping PEER (and aerie.peer6=ADDR%eth0, if given, over
#                     IPv6), send it 1 MiB of random bytes on port 5001
#                     (aerie.net_kib=N: N KiB; printing their MD5), wait for
#                     its "bye"; then pose as
#                     another card (a changed MAC address): Aerie's switch
#                     must drop every frame, so a second ping gets nothing
#   aerie.net=ping:ADDR
#                     ping ADDR six times, a second apart
#   aerie.net=uplink:PORT
#                     through Aerie's uplink to QEMU's user-mode network: say
#                     hello to the host's PORT (10.0.2.2), then print what the
#                     host sends to this VM's TCP port 5003 (listening first):
#                     its size and SHA-256, and the text if it is short

# features: the virtio feature bits the driver took, bit 0 first.
echo "net: eth0 $(cat /sys/class/net/eth0/address) $(ip -4 -o addr show eth0 | awk '{ print $4 }') features $(cat /sys/class/net/eth0/device/features)"
# eth0's IPv6 link-local address can send only once duplicate address
# detection has passed (about a second after the link came up).
wait_dad() {
    n=0
    while ip -6 addr show dev eth0 | grep -q tentative && [ $n -lt 50 ]; do
        sleep 0.1
        n=$((n + 1))
    done
}

if [ "${net_mode%%:*}" = ping ]; then
    case "${net_mode#ping:}" in *:*) wait_dad ;; esac
    ping -c 6 -W 1 "${net_mode#ping:}" | sed 's/^/net: /'
elif [ "${net_mode%%:*}" = uplink ]; then
    port=${net_mode#uplink:}
    # Listening before the hello: the host connects once it has heard it
    # (QEMU takes the host's connection at once, listening or not).
    nc -l -p 5003 > /tmp/from-host &
    listener=$!
    n=0
    until echo "hello from $(hostname)" | nc 10.0.2.2 "$port"; do
        n=$((n + 1))
        [ $n -ge 50 ] && { echo "net: FAIL 10.0.2.2:$port never answered"; break; }
        sleep 0.2
    done
    echo "net: said hello to 10.0.2.2:$port"
    wait $listener
    # A short message as it is; anything longer by its size and digest.
    if [ "$(wc -c < /tmp/from-host)" -le 200 ]; then
        echo "net: uplink got $(cat /tmp/from-host)"
    fi
    echo "net: uplink received $(wc -c < /tmp/from-host) bytes sha256 $(sha256sum < /tmp/from-host | cut -d' ' -f1)"
elif [ "$net_mode" = serve ]; then
    nc -l -p 5001 > /tmp/got
    echo "net: received $(wc -c < /tmp/got) bytes md5 $(md5sum < /tmp/got | cut -d' ' -f1)"
    peer=$(arg aerie.peer)
    # The sender waits for this before it goes on.
    n=0
    until echo bye | nc "$peer" 5002 2>/dev/null; do
        n=$((n + 1))
        [ $n -ge 100 ] && { echo "net: FAIL no answer from $peer:5002"; break; }
        sleep 0.1
    done
else
    peer=$net_mode
    ping -c 3 -W 5 "$peer" | sed 's/^/net: /'
    # IPv6 too (neighbour discovery by multicast through the switch). The
    # peer's own address may still be under duplicate address detection,
    # when it ignores us: wait until it answers once (5 tries), then count.
    if peer6=$(arg aerie.peer6); then
        wait_dad
        n=0
        until ping -c 1 -W 1 "$peer6" >/dev/null 2>&1 || [ $n -ge 5 ]; do
            n=$((n + 1))
        done
        ping -c 2 -W 2 "$peer6" | sed 's/^/net: v6 /'
    fi
    kib=$(arg aerie.net_kib) || kib=1024
    dd if=/dev/urandom of=/tmp/data bs=1024 count="$kib" 2>/dev/null
    echo "net: sending $(wc -c < /tmp/data) bytes md5 $(md5sum < /tmp/data | cut -d' ' -f1)"
    # The server may not be listening yet: retry until the connection is
    # taken. The guest counter around it is the network benchmark's measure
    # (`cargo xtask bench`: under -icount, ticks are the machine's instructions).
    t0=$(counter)
    n=0
    until nc "$peer" 5001 < /tmp/data 2>/dev/null; do
        n=$((n + 1))
        [ $n -ge 100 ] && { echo "net: FAIL $peer:5001 never answered"; break; }
        sleep 0.1
    done
    t1=$(counter)
    freq=$(counter_freq)
    echo "net: transfer of $(wc -c < /tmp/data) bytes from cntvct=$t0 to cntvct=$t1 cntfrq=$freq tries=$((n + 1))"
    echo "net: $(nc -l -p 5002)"
    ip link set eth0 address 52:54:00:ae:00:99
    ping -c 2 -W 1 "$peer" | sed 's/^/net: spoofed /'
fi
