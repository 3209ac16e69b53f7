# -*- coding: utf-8 -*-
# Copyright: netfabric.ovs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks shared by every module; each error names the field and what is allowed.

They run before any command touches the host, so bad input changes nothing.
"""

from __future__ import annotations

import ipaddress
import re

IFNAME_MAX = 15  # bytes: the kernel's IFNAMSIZ (16) less the terminating NUL
NETNS_MAX = 255  # bytes: a namespace is a file name under /run/netns
OVS_TAG = (0, 4095)
VLAN_ID = (1, 4094)
OFPORT = (1, 65279)  # OpenFlow port numbers a port may request (0xff00 and up are reserved)
VNI = (0, 16777215)
GRE_KEY = (0, 4294967295)

# Names travel as words of `ip -batch` lines (where '#' starts a comment anywhere and quotes group words),
# as arguments of ovs-vsctl command lists (where `--` separates commands and a leading '-' is an option),
# and into ovs-ofctl bundle files (where '#' starts a comment too). One portable set is safe in all of
# them, as systemd's own interface-name rule keeps to ASCII: letters, digits and . _ - + @.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-+@")
_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
NAME_RULE = "characters A-Z a-z 0-9 . _ - + @ only, starting with a letter, digit or '_', not all digits"
IFNAME_RULE = f"1-{IFNAME_MAX} {NAME_RULE}"
NETNS_RULE = f"1-{NETNS_MAX} {NAME_RULE}"


class ValidationError(ValueError):
    """Bad input, found before anything ran."""


def name_problem(value, max_bytes):
    """Why `value` is not a safe name of at most `max_bytes` bytes (the kernel counts bytes), or None."""
    if not isinstance(value, str):
        return "not a string"
    if not value:
        return "empty"
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return f"longer than {max_bytes} bytes ({size} bytes" + (" in UTF-8)" if size != len(value) else ")")
    bad = next((ch for ch in value if ch not in _NAME_CHARS), None)
    if bad is not None:
        return f"contains {'whitespace ' if bad.isspace() else ''}{bad!r}"
    if value[0] not in _NAME_FIRST:
        return f"starts with {value[0]!r}"
    if value.isdigit():
        return "all digits (read as a number, not a name)"
    return None


def ifname_problem(value):
    """Why `value` cannot be an interface, bridge or port name, or None (also used by the inventory check)."""
    return name_problem(value, IFNAME_MAX)


def ifname(field, value):
    """Linux interface, OVS bridge and port names: 1-15 bytes of a portable set of characters."""
    problem = ifname_problem(value)
    if problem is not None:
        raise ValidationError(f"{field}: {value!r} is not a valid interface name ({IFNAME_RULE}): {problem}")
    return value


def netns_name(field, value):
    """A named network namespace (a file under /run/netns), safe in `ip -n` and in `ip -batch` lines."""
    problem = name_problem(value, NETNS_MAX)
    if problem is not None:
        raise ValidationError(f"{field}: {value!r} is not a network namespace name ({NETNS_RULE}): {problem}")
    return value


PATH_RULE = "an absolute path without control characters and without '.', '..' or empty parts"
STRICT_PATH_RULE = "an absolute path of A-Z a-z 0-9 . _ - + @ and '/' only, without '.', '..' or empty parts"


def path_problem(value, *, strict=False):
    """Why `value` is not a clean absolute path, or None; `strict` also keeps to the name characters
    (for a path written into a systemd unit or a shell line as it is: no spaces, '%', '$' or quotes)."""
    if not isinstance(value, str) or not value.startswith("/"):
        return "not an absolute path"
    if strict:
        bad = next((ch for ch in value if ch != "/" and ch not in _NAME_CHARS), None)
    else:
        bad = next((ch for ch in value if ch < " " or ch == "\x7f"), None)
    if bad is not None:
        return f"contains {bad!r}"
    if value == "/":
        return "the root directory itself"
    parts = value.split("/")[1:]
    if "" in parts:
        return "has an empty part ('//' or a trailing '/')"
    if "." in parts or ".." in parts:
        return "has a '.' or '..' part"
    return None


def abs_path(field, value, *, strict=False):
    problem = path_problem(value, strict=strict)
    if problem is not None:
        raise ValidationError(f"{field}: {value!r} is not {STRICT_PATH_RULE if strict else PATH_RULE}: {problem}")
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
