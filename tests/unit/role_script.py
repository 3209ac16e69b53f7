"""A role's standalone script (roles/ROLE/files/NAME.py, installed on hosts and run by systemd) loaded as a
module, so unit tests can call its plan on recorded `ip -j` output."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "unit" / "plugins" / "module_utils" / "fixtures" / "iproute"


def load(role: str, name: str):
    """roles/ROLE/files/NAME.py as a module (its file name has a dash, so it cannot be imported)."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(REPO / "roles" / role / "files" / f"{name}.py"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module
