#!/usr/bin/env bash
# Run the molecule scenarios (LAB.md tier 2) one after the other, each in podman containers.
#
#   lab/molecule.sh               every scenario under extensions/molecule (the `molecule` stage of lab/run)
#   lab/molecule.sh vxlan gre     only these
#
# Builds (or reuses) the hypervisor image with lab/image/build.sh, then runs `molecule test` per
# scenario: create, prepare, converge, idempotence, verify, destroy. Prints each scenario's result
# and duration; exits non-zero if any failed. Containers and networks are named nfmol-*: leftovers
# of a killed earlier run are removed first, and everything is removed again at the end, even on
# failure or interrupt. Everything molecule and Ansible write stays under .cache/.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=nfmol-
SCENARIOS_DIR=extensions/molecule
cd "$REPO" || exit 1

export PATH="$REPO/.venv/bin:$PATH" # molecule runs ansible-config and ansible-playbook from PATH
export HOME="$REPO/.cache/home"
export XDG_CACHE_HOME="$HOME/.cache" XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share"
export ANSIBLE_HOME="$REPO/.cache/ansible-home"
export ANSIBLE_LOCAL_TEMP="$ANSIBLE_HOME/tmp" ANSIBLE_REMOTE_TMP="$ANSIBLE_HOME/remote-tmp"
export ANSIBLE_COLLECTIONS_PATH="$REPO/.cache/collections"
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}" NO_COLOR="${NO_COLOR:-1}"
export CONTAINERS_CONF="$REPO/lab/containers.conf"
# Molecule keeps one ephemeral directory per scenario, molecule.<checksum>.<scenario>, in
# $ANSIBLE_HOME/tmp. It is not moved with MOLECULE_EPHEMERAL_DIRECTORY: that one directory would
# also be the `default` scenario's, whose state then clashes with the scenario run (a warning).
MOLECULE_STATE="$ANSIBLE_HOME/tmp"
mkdir -p "$HOME" "$ANSIBLE_LOCAL_TEMP" "$MOLECULE_STATE"

# The collection must be found as netfabric.ovs: .cache/collections/ansible_collections/netfabric/ovs -> repo
link="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/netfabric/ovs"
if [[ "$(readlink "$link" 2>/dev/null)" != "$REPO" ]]; then
    mkdir -p "$(dirname "$link")"
    rm -rf "$link"
    ln -s "$REPO" "$link"
fi

# Remove every nfmol-* container and network, and molecule's record of them (a stale "created"
# state would make molecule skip create on the next run).
cleanup() {
    local ids nets
    mapfile -t ids < <(podman ps -aq --filter "name=^$PREFIX" 2>/dev/null)
    ((${#ids[@]})) && podman rm -f -t 0 "${ids[@]}" >/dev/null 2>&1 9>&-
    mapfile -t nets < <(podman network ls -q --filter "name=^$PREFIX" 2>/dev/null)
    ((${#nets[@]})) && podman network rm -f "${nets[@]}" >/dev/null 2>&1
    rm -rf "${MOLECULE_STATE:?}"/molecule.*
    return 0
}

# molecule runs in the background, in its own process group (setsid), and is waited for: a TERM
# (lab/run's stage timeout) or an INT is handled at once by stopping molecule with its
# ansible-playbook children, then removing what they made.
child=""
on_signal() {
    echo "molecule.sh: interrupted, cleaning up" >&2
    if [[ -n $child ]]; then
        kill -TERM -- "-$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    cleanup
    exit 130
}

# The podman driver's schema has no `subnet`, yet the platforms need fixed addresses (the inventory
# names each underlay address). So the network a scenario's platforms name is made here, as the
# /24 around their `ip`; the driver finds it, uses it and removes it on destroy.
NETWORKS_PY='
import ipaddress, sys, yaml
platforms = yaml.safe_load(open(sys.argv[1]))["platforms"]
for name, subnet in sorted({(p["network"], ipaddress.ip_interface(p["ip"] + "/24").network) for p in platforms if "ip" in p}):
    print(name, subnet)
'
create_network() {
    local spec name subnet
    spec="$(python3 -c "$NETWORKS_PY" "$SCENARIOS_DIR/$1/molecule.yml")" || return 1
    while read -r name subnet; do
        [[ -n $name ]] || continue
        if [[ $name != "$PREFIX"* ]]; then
            echo "molecule.sh: network $name of scenario $1 must start with $PREFIX" >&2
            return 1
        fi
        podman network create --subnet "$subnet" --label netfabric.lab=molecule "$name" >/dev/null 9>&- || return 1
        no_hairpin "$name" || return 1
    done <<<"$spec"
}

# Podman's CNI bridge networks turn hairpin on for every container port: the bridge sends a
# container's own broadcasts back to it. A switch does not do that, and the fabric's br-phy would
# learn its own MAC on eth0 from them (LAB.md, tier 2), so the scenarios would test something no
# user has. The bridge plugin reads the conflist whenever it attaches a container, so turning
# hairpinMode off before molecule creates the containers is enough; the check reads it back.
CNI_DIR="${NETFABRIC_CNI_DIR:-/etc/cni/net.d}"
NO_HAIRPIN_PY='
import json, sys
path = sys.argv[1]
conf = json.load(open(path))
bridges = [p for p in conf.get("plugins", []) if p.get("type") == "bridge"]
if not bridges:
    sys.exit(f"{path}: no bridge plugin")
for plugin in bridges:
    plugin["hairpinMode"] = False
with open(path, "w") as out:
    json.dump(conf, out, indent=3)
    out.write("\n")
if any(p.get("hairpinMode") for p in json.load(open(path)).get("plugins", [])):
    sys.exit(f"{path}: hairpinMode is still on")
'
no_hairpin() {
    local backend conflist="$CNI_DIR/$1.conflist"
    backend="$(podman info --format '{{.Host.NetworkBackend}}' 9>&-)" || return 1
    if [[ $backend != cni ]]; then
        echo "molecule.sh: network backend $backend: hairpin of network $1 left as podman made it" >&2
        return 0
    fi
    if [[ ! -f $conflist ]]; then
        echo "molecule.sh: no $conflist for network $1 (set NETFABRIC_CNI_DIR to podman's CNI config directory)" >&2
        return 1
    fi
    python3 -c "$NO_HAIRPIN_PY" "$conflist"
}

seconds_since() { awk -v ns=$(($(date +%s%N) - $1)) 'BEGIN { printf "%.1f", ns / 1e9 }'; }

if (($#)); then
    scenarios=("$@")
else
    # `default` is molecule's empty shared-state scenario (extensions/molecule/default): nothing to run
    mapfile -t scenarios < <(find "$SCENARIOS_DIR" -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -rn1 basename | grep -vx default | sort)
fi
for scenario in "${scenarios[@]}"; do
    if [[ ! -f $SCENARIOS_DIR/$scenario/molecule.yml ]]; then
        echo "molecule.sh: no scenario $SCENARIOS_DIR/$scenario" >&2
        exit 2
    fi
done

# Container names and subnets are fixed by the scenarios, so two runs (two checkouts on one
# machine) would remove each other's containers: they take turns on a lock instead. The lock goes
# with the process, so a killed run leaves only containers that the cleanup below removes. Children
# get the descriptor closed (9>&-): a container's conmon or a stray async job must not keep it.
LOCK="${TMPDIR:-/tmp}/netfabric-molecule.lock"
exec 9>"$LOCK"
if ! flock -n 9; then
    echo "molecule.sh: another molecule run holds $LOCK; waiting for it to finish"
    flock 9
fi
trap on_signal INT TERM
trap cleanup EXIT

cleanup
start=$(date +%s%N)
NETFABRIC_HV_IMAGE="$(bash lab/image/build.sh 9>&-)" || {
    echo "molecule.sh: building the hypervisor image failed" >&2
    exit 1
}
export NETFABRIC_HV_IMAGE
image_time="$(seconds_since "$start")"
echo "image $NETFABRIC_HV_IMAGE ready in ${image_time} s"

results=()
failed=0
for scenario in "${scenarios[@]}"; do
    printf '\n===== molecule scenario %s =====\n' "$scenario"
    start=$(date +%s%N)
    if create_network "$scenario"; then
        setsid molecule --base-config "$SCENARIOS_DIR/config.yml" test --scenario-name "$scenario" 9>&- &
        child=$!
        wait "$child"
        rc=$?
        child=""
    else
        rc=1
    fi
    took="$(seconds_since "$start")"
    if ((rc == 0)); then
        results+=("$(printf '%-12s %8s  PASS' "$scenario" "$took")")
    else
        results+=("$(printf '%-12s %8s  FAIL (exit %d)' "$scenario" "$took" "$rc")")
        failed=$((failed + 1))
    fi
    cleanup # molecule destroys after a failure too; this catches what it could not
done

printf '\n%-12s %8s  %s\n' SCENARIO SECONDS RESULT
printf '%-12s %8s  %s\n' image "$image_time" "$NETFABRIC_HV_IMAGE"
printf '%s\n' "${results[@]}"
echo "molecule: $((${#scenarios[@]} - failed)) passed, $failed failed"
((failed == 0))
