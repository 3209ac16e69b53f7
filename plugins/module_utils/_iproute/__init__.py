# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Links and addresses through iproute2, one file per job.

    spec     what the modules accept (argument specs, validation)
    read     the one read (`ip -j -d address show`), normalised
    link     ip_link's pure plan, the owner mark, the plan back to a state read before
    address  ip_address's pure plan and its way back
    batch    the one write, all or nothing (`ip -batch -`, undone when a line fails)
    run      both modules through _module.run

Private to the collection: the API may change without notice.
"""
