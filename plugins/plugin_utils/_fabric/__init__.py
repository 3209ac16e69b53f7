# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side fabric logic: inventory -> validated model -> topology -> per-host plans.

Private to the collection (the leading underscore): filters are the public face.
"""
