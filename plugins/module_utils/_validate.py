# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks shared by every module; each error names the field and what is allowed.

They run before any command touches the host, so bad input changes nothing.
"""

from __future__ import annotations

import ipaddress
import re

IFNAME_MAX = 15
OVS_TAG = (0, 4095)
VLAN_ID = (1, 4094)
VNI = (0, 16777215)
GRE_KEY = (0, 4294967295)
_BAD_IFNAME = re.compile(r"[/\s:]")


class ValidationError(ValueError):
    """Bad input, found before anything ran."""


def ifname(field, value):
    """Linux interface names: 1-15 characters, no '/', whitespace or ':'."""
    if not isinstance(value, str) or not value or len(value) > IFNAME_MAX or _BAD_IFNAME.search(value) or value in (".", ".."):
        raise ValidationError(
            f"{field}: {value!r} is not a valid interface name "
            f"(1-{IFNAME_MAX} characters, no '/', whitespace or ':')"
        )
    return value


def int_range(field, value, bounds):
    low, high = bounds
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= high:
        raise ValidationError(f"{field}: {value!r} is out of range (allowed {low}-{high})")
    return number


def ip_address(field, value, *, with_prefix=False):
    """An IPv4/IPv6 address, or address/prefix when with_prefix; returned in canonical form."""
    try:
        if with_prefix:
            if "/" not in str(value):
                raise ValueError
            return str(ipaddress.ip_interface(value))
        return str(ipaddress.ip_address(value))
    except ValueError:
        wanted = "an IPv4/IPv6 address with prefix, like 192.0.2.1/24" if with_prefix else "an IPv4/IPv6 address"
        raise ValidationError(f"{field}: {value!r} is not {wanted}") from None


def mac_address(field, value):
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", value):
        raise ValidationError(f"{field}: {value!r} is not a MAC address (like 52:54:00:12:34:56)")
    return value.lower()


def choice(field, value, allowed):
    if value not in allowed:
        raise ValidationError(f"{field}: {value!r} is not one of {', '.join(map(str, allowed))}")
    return value


def string_map(field, value):
    """OVSDB string maps: keys and values become strings; None values mean 'remove this key'."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(f"{field}: must be a dictionary of strings")
    return {str(k): (None if v is None else _ovs_text(v)) for k, v in value.items()}


def _ovs_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
