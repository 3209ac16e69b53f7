"""Make the repository importable as the collection `netfabric.ovs` for every test.

The repository root is the collection root; Ansible and Python find it through a
directory `ansible_collections/netfabric/ovs` that links back here.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".cache" / "collections"
link = COLLECTIONS / "ansible_collections" / "netfabric" / "ovs"
if not link.exists():
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(REPO, target_is_directory=True)
    except FileExistsError:
        pass
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)
