# Aerie's Linux guest: the disk-persistence check across an Aerie restart,
# sourced by /init (with $disk_mode set) when the command line has
# aerie.disk=write or aerie.disk=verify (integration test `linux-disk-restart`). The two modes run
# in two separate QEMU/Aerie runs on the same host disk file.
#
#   write   sector 0 of /dev/vda gets the marker
#           "AERIE-DISK token=<uuid> md5=<md5 of the data>", the 256 KiB from
#           byte 4096 get "<uuid>\n" repeated; prints
#           "check: disk written token=<uuid> md5=<md5>".
#   verify  reads the marker and the data back; prints
#           "check: disk persisted token=<uuid> md5=<md5>" when the data still
#           has the md5 the marker recorded, else
#           "check: disk not persisted: <why>".
# Either way the VM powers off afterwards (init.sh).

# The data's length and where it starts: the test reads the same bytes from
# the host disk file.
disk_data_bytes=262144

disk_data_md5() {
    dd if=/dev/vda bs=4096 skip=1 count=$((disk_data_bytes / 4096)) 2>/dev/null | md5sum | cut -d' ' -f1
}

if ! wait_vda; then
    echo "check: disk not persisted: no /dev/vda"
elif [ "$disk_mode" = write ]; then
    token=$(cat /proc/sys/kernel/random/uuid)
    yes "$token" | head -c $disk_data_bytes > /tmp/data
    sum=$(md5sum < /tmp/data | cut -d' ' -f1)
    # The data first, the marker last, each flushed (conv=fsync sends a
    # virtio-blk FLUSH): a marker on disk means its data is there too.
    dd if=/tmp/data of=/dev/vda bs=4096 seek=1 conv=fsync 2>/dev/null
    printf 'AERIE-DISK token=%s md5=%s\n' "$token" "$sum" |
        dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null
    echo "check: disk written token=$token md5=$sum"
elif [ "$disk_mode" = verify ]; then
    m=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\000' | head -n 1)
    case "$m" in
    "AERIE-DISK token="*)
        set -- $m
        token=${2#token=}
        sum=${3#md5=}
        got=$(disk_data_md5)
        if [ "$got" = "$sum" ]; then
            echo "check: disk persisted token=$token md5=$sum"
        else
            echo "check: disk not persisted: data md5 $got, the marker says $sum"
        fi
        ;;
    *) echo "check: disk not persisted: no marker in sector 0 (found '$m')" ;;
    esac
else
    echo "check: disk not persisted: unknown mode aerie.disk=$disk_mode"
fi
