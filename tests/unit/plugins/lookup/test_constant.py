"""The constant lookup hands the roles the same names the planner and the modules use."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleLookupError
from ansible_collections.netfabric.ovs.plugins.lookup.constant import LookupModule
from ansible_collections.netfabric.ovs.plugins.module_utils import _constants


def test_names_and_mapping_keys():
    assert LookupModule().run(["BR_INT", "FLOW_COOKIE", "OWNERS.tenants"]) == [_constants.BR_INT, _constants.FLOW_COOKIE, _constants.OWNERS["tenants"]]


def test_sequences_come_back_as_lists():
    assert LookupModule().run(["OPENFLOW_VERSIONS"]) == [list(_constants.OPENFLOW_VERSIONS)]


@pytest.mark.parametrize("term", ["NOPE", "br_int", "OWNERS.nobody", "BR_INT.x", "__name__"])
def test_unknown_names_are_refused(term):
    with pytest.raises(AnsibleLookupError, match="netfabric.ovs.constant"):
        LookupModule().run([term])
