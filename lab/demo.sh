#!/usr/bin/env bash
# The main job, on this machine: the example fabric (3 hypervisors, 2 tenants on one subnet)
# built as network namespaces, converged with the site playbook, and shown working.
#   lab/run demo            VXLAN, MAC learning
#   NETFABRIC_EXAMPLE=gre NETFABRIC_MODE=l2pop lab/run demo
# Leaves the lab running for a look around; `lab/run clean` removes it.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
EXAMPLE="examples/${NETFABRIC_EXAMPLE:-vxlan}"
PREFIX=nfdemo
OUT="$REPO/.cache/demo"
mkdir -p "$OUT"
INVENTORY=("-i" "$EXAMPLE")
EXTRA=()
[[ -n ${NETFABRIC_MODE:-} ]] && EXTRA=(-e "netfabric_mode=$NETFABRIC_MODE")

echo "== 1/5 hypervisors, underlay and VMs as network namespaces ($EXAMPLE)"
LAB_INVENTORY=$(python3 lab/fabric.py up --prefix "$PREFIX" "$EXAMPLE")
INVENTORY+=("-i" "$LAB_INVENTORY")

echo "== 2/5 ansible-playbook netfabric.ovs.site"
ansible-playbook "${INVENTORY[@]}" "${EXTRA[@]}" playbooks/site.yml | tee "$OUT/site.log" | grep -E '^(PLAY|TASK|fatal)|changed=' || true
grep -q 'failed=[1-9]' "$OUT/site.log" && { echo "site failed: see $OUT/site.log"; exit 1; }

echo "== 3/5 second run (must change nothing)"
ansible-playbook "${INVENTORY[@]}" "${EXTRA[@]}" playbooks/site.yml | sed -n '/PLAY RECAP/,$p'

echo "== 4/5 tunnels per host"
python3 lab/fabric.py tunnels --prefix "$PREFIX" "$EXAMPLE"

echo "== 5/5 who reaches whom (real pings from the VM namespaces)"
status=0
python3 lab/fabric.py matrix --prefix "$PREFIX" "$EXAMPLE" || status=1
picture=$(python3 lab/fabric.py picture "$EXAMPLE" "$OUT/fabric.svg")
echo "fabric picture (bridges, local VLANs, tunnel ids, tunnels; drawn from the plans): $picture"
echo "the lab stays up: e.g. ip netns exec $PREFIX-tap-red-1 ping 10.0.0.2; remove it with: lab/run clean"
exit $status
