#!/usr/bin/env bash
# Build the hypervisor container image for the molecule scenarios (LAB.md tier 2) and print its name.
#
#   lab/image/build.sh        prints localhost/netfabric-hv:<hash>; builds it only when that tag is missing
#
# No image registry is reachable, so the image is made from Debian packages with debootstrap and
# imported into podman. The tag is a hash of this script: editing the script makes a new image,
# running it again reuses the existing one. The Debian mirror is the one apt on this machine uses.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SUITE=bookworm
# systemd: the reboot and linuxbridge scenarios boot it as init to run the fabric's units for real; the
# others run sleep. dnsmasq-base (the binary, without Debian's own dnsmasq service), nftables and busybox
# (udhcpc, the VMs' DHCP client): the network node's routers and DHCP servers.
PACKAGES=(openvswitch-switch iputils-ping tcpdump procps ethtool systemd systemd-sysv dnsmasq-base nftables busybox)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO/lab/containers.conf}"

TAG="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
IMAGE="localhost/netfabric-hv:$TAG"

log() { printf '==> %s\n' "$*" >&2; }

# The first "deb" source of $SUITE in apt's configuration, one-line (.list) or deb822 (.sources).
apt_mirror() {
    local file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $file ]] || continue
        awk -v suite="$SUITE" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$file"
    done
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -f $file ]] || continue
        # deb822: paragraphs separated by blank lines; keep Types/URIs/Suites of each
        awk -v suite="$SUITE" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uri != "") { print uri; found = 1 }
                types = ""; suites = ""; uri = ""
            }
            /^[ \t]*$/ { flush(); if (found) exit; next }
            /^#/ { next }
            tolower($1) == "types:" { $1 = ""; types = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0; gsub(/^ +| +$/, "", suites) }
            tolower($1) == "uris:" { uri = $2 }
            END { if (!found) flush() }' "$file"
    done
}

if podman image exists "$IMAGE"; then
    log "image $IMAGE exists"
    echo "$IMAGE"
    exit 0
fi

MIRROR="$(apt_mirror | head -n1)"
if [[ -z $MIRROR ]]; then
    echo "build.sh: no '$SUITE' deb source in /etc/apt/sources.list{,.d}" >&2
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/netfabric-hv.XXXXXX")"
# debootstrap mounts proc and sys inside the rootfs; a killed build may leave them mounted
remove_work() {
    local mnt
    awk -v work="$WORK/" 'index($2, work) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mnt; do
        umount -l "$mnt" || true
    done
    rm -rf --one-file-system "$WORK"
}
trap remove_work EXIT
ROOTFS="$WORK/rootfs"

log "debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --include=python3,iproute2 "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORK/debootstrap.log" >&2
    exit 1
}

log "apt-get install ${PACKAGES[*]}"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
if ! { chroot "$ROOTFS" apt-get update -q >"$WORK/apt.log" 2>&1 &&
    DEBIAN_FRONTEND=noninteractive chroot "$ROOTFS" apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" \
        >>"$WORK/apt.log" 2>&1; }; then
    tail -n 30 "$WORK/apt.log" >&2
    exit 1
fi
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS/etc/resolv.conf"

log "podman import as $IMAGE"
tar -C "$ROOTFS" -c . | podman import --change 'CMD ["sleep","infinity"]' - "$IMAGE" >/dev/null
# images of earlier versions of this script are of no use any more (one in use stays)
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' "${IMAGE%:*}"); do
    if [[ $old != "$IMAGE" ]] && podman rmi "$old" >/dev/null 2>&1; then
        log "removed $old"
    fi
done
echo "$IMAGE"
