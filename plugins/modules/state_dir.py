#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: state_dir
short_description: A directory only root may write, the files kept in it, and what the roles read beside it, in one call
version_added: 0.1.0
description:
  - Root replays what the fabric keeps in its state directory (flow bundles, boot scripts and their state), so the
    directory must be root's alone. It is made (mode 0700, parents 0755) when missing. One that exists, and each of
    O(subdirs), is used only if it is a directory that root owns and no one else can write to; its parent too, unless
    the parent is sticky like C(/tmp). Otherwise the task fails, naming the path, and writes nothing.
  - Reads once, then writes in one pass only the files whose content or mode differs, each replaced atomically (a
    reader sees the old file or the new one). A second run with the same arguments writes nothing.
  - The same call reports whether the paths in O(stat) exist and which paths match O(list), so a role learns what it
    needs (is systemd running, is a unit installed, which servers an earlier run left) without a task per path.
author: netfabric.ovs developers (@netfabric)
extends_documentation_fragment:
  - netfabric.ovs.attributes
options:
  path:
    description: The directory, an absolute path.
    type: str
    required: true
  state:
    description:
      - V(present) makes the directory and O(subdirs), writes O(files) and removes what O(purge) matches that is not in O(files).
      - V(absent) removes O(files), what O(purge) matches, and then each of O(subdirs) that is left empty; never O(path) itself.
    type: str
    choices: [present, absent]
    default: present
  subdirs:
    description: Directories inside O(path) (relative names), made and checked like it.
    type: list
    elements: str
    default: []
  files:
    description: Files inside O(path).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Its name relative to O(path), in O(path) itself or in one of O(subdirs).
        type: str
        required: true
      content:
        description: Its whole content.
        type: str
        required: true
      mode:
        description: Its mode, in octal.
        type: str
        default: "0600"
  purge:
    description: Glob patterns relative to O(path) (such as V(nft/*.nft)); matching files not in O(files) are removed.
    type: list
    elements: str
    default: []
  stat:
    description: Absolute paths anywhere, only read; C(stat) in the result says whether each exists and is a directory.
    type: list
    elements: str
    default: []
  list:
    description: Glob patterns relative to O(path), only read; C(listed) in the result holds the paths each matches.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: The restore script and the boot state, and whether systemd runs
  netfabric.ovs.state_dir:
    path: /etc/netfabric
    subdirs: [flows]
    files:
      - {name: restore-flows, content: "{{ lookup('ansible.builtin.file', 'restore-flows', rstrip=false) }}", mode: "0755"}
      - {name: boot.json, content: "{{ boot | to_nice_json }}\n"}
    stat: [/run/systemd/system]
    list: ["dhcp-*"]
  register: state
"""

RETURN = r"""
commands:
  description: The steps taken (or, in check mode, that would be), such as V([write, /etc/netfabric/boot.json]).
  returned: always
  type: list
  elements: list
before:
  description: Each file named or matched, as V(MODE sha1:SUM), null when missing; made or removed directories end in V(/).
  returned: always
  type: dict
after:
  description: The same after the change (predicted in check mode).
  returned: always
  type: dict
path:
  description: The directory.
  returned: success
  type: str
stat:
  description: For each path of O(stat), C(exists) and C(isdir).
  returned: success
  type: dict
  sample: {"/run/systemd/system": {"exists": true, "isdir": true}}
listed:
  description: For each pattern of O(list), the matching paths, sorted.
  returned: success
  type: dict
  sample: {"dhcp-*": ["/etc/netfabric/dhcp-red-a"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.ovs.plugins.module_utils._state_dir import ARGUMENT_SPEC, main as converge


def main():
    converge(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
