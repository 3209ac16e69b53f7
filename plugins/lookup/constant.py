# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup netfabric.ovs.constant: the collection's shared names and numbers, for the roles' defaults.

The roles take their values from netfabric_plan; a role imported without a plan falls back to the
names the planner would have used, read here from the one home of constants (module_utils/_constants).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: constant
author: netfabric.ovs developers (@netfabric)
version_added: "0.1.0"
short_description: A name or number the whole collection agrees on (bridge names, owner marks, the flow cookie)
description:
  - Returns the values of the named constants of the collection, the same ones the planner and the modules use.
  - The roles' defaults take their values from C(netfabric_plan); imported without a plan, they fall back to these.
options:
  _terms:
    description:
      - Names of constants, for example V(BR_INT), V(FLOW_COOKIE), V(STATE_DIR); a key of a mapping after a dot, as V(OWNERS.tenants).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: The integration bridge's name and the owner mark of tenant ports
  ansible.builtin.debug:
    msg: "{{ lookup('netfabric.ovs.constant', 'BR_INT') }} {{ lookup('netfabric.ovs.constant', 'OWNERS.tenants') }}"
"""

RETURN = r"""
_raw:
  description: The value of each named constant, in the order asked.
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.netfabric.ovs.plugins.module_utils import _constants


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [self._value(term) for term in terms]

    @staticmethod
    def _value(term):
        name, _dot, key = str(term).partition(".")
        if not name.isupper() or not hasattr(_constants, name):
            raise AnsibleLookupError(f"netfabric.ovs.constant: no constant named {term!r}")
        value = getattr(_constants, name)
        if key:
            if not isinstance(value, dict) or key not in value:
                raise AnsibleLookupError(f"netfabric.ovs.constant: {name} has no key {key!r}")
            value = value[key]
        return list(value) if isinstance(value, (tuple, frozenset)) else value
