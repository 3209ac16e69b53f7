"""House rules that no linter checks, run over whatever files exist, so new ones are held to them too.

- Code that runs on the hypervisor (modules, module_utils) imports only the standard library,
  ansible.module_utils and the collection's own module_utils: it never reaches controller code.
- No code runs a shell.
- Module documentation is valid YAML, and every module belongs to the `ovs` action group.
- Roles mirror defaults/main.yml in meta/argument_specs.yml.
- The scripts CI and users call are executable, and the virtualenv is fully pinned.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted((REPO / "plugins" / "modules").glob("*.py"))
MODULE_UTILS = sorted((REPO / "plugins" / "module_utils").rglob("*.py"))
ALL_PYTHON = sorted(
    path
    for folder in ("plugins", "lab", "tests", "bench")
    for path in (REPO / folder).rglob("*.py")
    if "__pycache__" not in path.parts
)
ROLES = sorted(path for path in (REPO / "roles").glob("*") if (path / "defaults" / "main.yml").exists())
OWN_MODULE_UTILS = "ansible_collections.netfabric.ovs.plugins.module_utils"


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def imported_modules(path: Path):
    """Yield (line, dotted name) for each absolute import in the file."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def target_side_import_allowed(name: str) -> bool:
    top = name.split(".")[0]
    return (
        top in sys.stdlib_module_names
        or name in ("ansible.module_utils", OWN_MODULE_UTILS)
        or name.startswith(("ansible.module_utils.", OWN_MODULE_UTILS + "."))
    )


@pytest.mark.parametrize("path", MODULES + MODULE_UTILS, ids=rel)
def test_target_code_imports_only_stdlib_and_module_utils(path):
    bad = [f"line {line}: {name}" for line, name in imported_modules(path) if not target_side_import_allowed(name)]
    assert not bad, f"{rel(path)} runs on the hypervisor but imports {bad}"


def test_target_side_import_rule_rejects_controller_code():
    """The rule above must be able to fail: netaddr and plugin_utils are controller-only."""
    assert not target_side_import_allowed("netaddr")
    assert not target_side_import_allowed("ansible_collections.netfabric.ovs.plugins.plugin_utils._fabric")
    assert not target_side_import_allowed("ansible.plugins.filter")
    assert target_side_import_allowed("ipaddress")
    assert target_side_import_allowed("ansible.module_utils.basic")


def shell_true_calls(path: Path):
    """Line numbers of calls passing shell=True (or any non-False constant) as a keyword."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in ("shell", "use_unsafe_shell") and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value in (False, None)
                ):
                    yield node.lineno


@pytest.mark.parametrize("path", ALL_PYTHON, ids=rel)
def test_no_shell(path):
    lines = list(shell_true_calls(path))
    assert not lines, f"{rel(path)} runs a shell at lines {lines}: pass an argv list instead"


def test_shell_detector_finds_shell_true(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import subprocess\nsubprocess.run('ls', shell=True)\nsubprocess.run(['ls'], shell=False)\n")
    assert list(shell_true_calls(sample)) == [2]


def module_docs(path: Path) -> dict[str, str]:
    """The DOCUMENTATION, EXAMPLES and RETURN strings of a module, read without importing it."""
    docs = {}
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                    docs[target.id] = node.value.value
    return docs


@pytest.mark.parametrize("path", MODULES, ids=rel)
def test_module_documentation_is_yaml(path):
    docs = module_docs(path)
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, f"{rel(path)} lacks {sorted({'DOCUMENTATION', 'EXAMPLES', 'RETURN'} - set(docs))}"
    errors = []
    for name, text in docs.items():
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as error:
            errors.append(f"{rel(path)} {name} is not valid YAML: {error}")
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)
    assert yaml.safe_load(docs["DOCUMENTATION"])["module"] == path.stem


def test_every_module_is_in_the_action_group():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    group = set(runtime["action_groups"]["ovs"])
    missing = sorted(path.stem for path in MODULES if path.stem not in group)
    assert not missing, f"meta/runtime.yml action_groups.ovs does not list {missing}"


def test_galaxy_names_the_collection():
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("netfabric", "ovs")


@pytest.mark.parametrize("role", ROLES, ids=lambda path: path.name)
def test_role_argument_specs_mirror_defaults(role):
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"].get("options", {})
    assert set(options) == set(defaults), f"{role.name}: meta/argument_specs.yml options differ from defaults/main.yml"
    # ansible-core templates the argument spec before validating: a Jinja default there is evaluated
    # even when the caller gives the variable, and fails where netfabric_plan does not exist.
    literal = {name: value for name, value in defaults.items() if not (isinstance(value, str) and "{{" in value)}
    documented = {name: spec["default"] for name, spec in options.items() if "default" in spec}
    assert documented == literal, f"{role.name}: literal defaults differ, or a templated default is in the spec"


def test_requirements_are_pinned():
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    unpinned = [line for line in lines if line and "==" not in line]
    assert not unpinned, f"requirements.txt: pin these with ==: {unpinned}"


@pytest.mark.parametrize("script", ["lab/setup", "lab/run", ".ci/run"])
def test_entry_points_are_executable(script):
    path = REPO / script
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    assert os.access(path, os.X_OK), f"{script} must be executable (git keeps the mode)"


def test_galaxy_has_no_placeholder_urls():
    """Galaxy shows these links on the collection's page: a placeholder there is a broken link."""
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    links = {key: galaxy.get(key) for key in ("repository", "documentation", "homepage", "issues")}
    bad = {key: url for key, url in links.items() if url and (".invalid" in url or "example." in url or not url.startswith("https://"))}
    assert not bad, f"galaxy.yml: placeholder or non-https URLs {bad}: give real ones or leave the key out"


def test_galaxy_build_ignores_development_files():
    ignored = set(yaml.safe_load((REPO / "galaxy.yml").read_text())["build_ignore"])
    missing = {".cache", ".venv", "lab", "bench", "tests", ".ci", "extensions", "changelogs/.plugin-cache.yaml"} - ignored
    assert not missing, f"galaxy.yml build_ignore lacks {sorted(missing)}: development files would ship"


def load_lab_script(name: str):
    """Import a lab/ script as a module (lab/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "lab" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fragment_rule_finds_a_change_without_fragment(tmp_path):
    """lab/fragments.py (lint stage): commits before changelogs/ are exempt; after it, a change to
    plugins/ or roles/ without a fragment is named, one with a fragment passes, and so does work in
    progress that adds one."""
    fragments = load_lab_script("fragments")
    git = fragments.git

    def commit(files: dict[str, str], message: str):
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(tmp_path, "add", "-A")
        git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)

    git(tmp_path, "init", "-q")
    commit({"plugins/modules/a.py": "1"}, "before fragments")
    assert fragments.commits_without_fragment(tmp_path) == []
    commit({"changelogs/config.yaml": "x", "changelogs/fragments/a.yml": "x", "roles/r/tasks/main.yml": "1"}, "fragments begin")
    commit({"plugins/modules/a.py": "2", "changelogs/fragments/b.yml": "x"}, "with fragment")
    commit({"README.md": "docs"}, "docs only")
    assert fragments.commits_without_fragment(tmp_path) == []
    commit({"roles/r/tasks/main.yml": "2"}, "no fragment")
    assert [line.split(" ", 1)[1] for line in fragments.commits_without_fragment(tmp_path)] == ["no fragment"]
    (tmp_path / "plugins/modules/a.py").write_text("3")
    assert fragments.uncommitted_without_fragment(tmp_path) == ["plugins/modules/a.py"]
    (tmp_path / "changelogs/fragments/c.yml").write_text("x")
    assert fragments.uncommitted_without_fragment(tmp_path) == []


def test_execution_environment_installs_this_version_with_the_tested_core():
    """execution-environment.yml installs the tarball `ansible-galaxy collection build` makes of this
    version, with the ansible-core the tests run on."""
    ee = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    tarball = f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    assert [item["src"] for item in ee["additional_build_files"]] == [tarball]
    assert ee["dependencies"]["galaxy"]["collections"] == [{"name": f"collections/{tarball}", "type": "file"}]
    pins = dict(line.split("==") for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line)
    assert ee["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={pins['ansible-core']}"
