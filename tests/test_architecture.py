"""The import rules and the size rule, read from the source (AST), so a change that breaks them fails here.

Parts (setup.cfg `package_dir` puts them in one namespace): the robot side `vla_lite/` (outside export/), the
serial bridge `firmware_bridge/` (vla_lite.firmware_bridge), the offline path `export/` (vla_lite.export) and
`calib/` (vla_lite.calib). Rules (ARCHITECTURE.md):
- the robot side never imports vla_lite.export, not even lazily inside a function;
- firmware_bridge imports nothing else of the project;
- calib never imports export;
- no module uses another module's `_private` names (`from x import _y`, or `x._y` on an imported module);
- no function on the robot side or in firmware_bridge is longer than MAX_FUNCTION_LINES.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> the package it installs as (setup.cfg package_dir)
PACKAGE_DIRS = {"vla_lite": "vla_lite", "firmware_bridge": "vla_lite.firmware_bridge", "export": "vla_lite.export",
                "calib": "vla_lite.calib"}
MAX_FUNCTION_LINES = 80
LENGTH_CHECKED = ("vla_lite", "firmware_bridge", "export", "calib")


@dataclass(frozen=True)
class Module:
    name: str  # dotted, as installed: vla_lite.firmware_bridge.link
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]

    @property
    def part(self) -> str:
        return part_of(self.name)

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def part_of(name: str) -> str:
    for part in ("export", "calib", "firmware_bridge"):
        if name == f"vla_lite.{part}" or name.startswith(f"vla_lite.{part}."):
            return part
    return "robot"


def load_modules() -> dict[str, Module]:
    modules = {}
    for folder, package in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join((package, *parts))
            if folder == "vla_lite" and part_of(name) != "robot":
                continue  # not a real folder of vla_lite/ (package_dir maps the others)
            modules[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return modules


MODULES = load_modules()


def resolve(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against the module's package)."""
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    if node.level > 1:
        base = base[:-(node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: Module) -> list[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every import in the module, lazy ones included."""
    out = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            for a in node.names:
                out.append((node.lineno, target, a.name))
    return out


def imported_project_modules(module: Module) -> list[tuple[int, str]]:
    """(line, project module) for each import, `from package import submodule` counted as the submodule."""
    out = []
    for line, target, name in imports(module):
        full = f"{target}.{name}" if name is not None and f"{target}.{name}" in MODULES else target
        if full == "vla_lite" or full.startswith("vla_lite."):
            out.append((line, full))
    return out


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(module: Module) -> list[tuple[int, str]]:
    """(line, "module.name") for each use of another project module's private name."""
    uses = []
    bound: dict[str, str] = {}  # local name -> project module it is bound to (import x as y / from p import mod)
    for line, target, name in imports(module):
        if name is None:
            if target in MODULES:
                bound[target.split(".")[0]] = "vla_lite" if target.startswith("vla_lite") else target
            continue
        full = f"{target}.{name}"
        if full in MODULES:
            bound[name] = full
        elif target in MODULES and target != module.name and is_private(name):
            uses.append((line, full))
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname and a.name in MODULES:
                    bound[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            for a in node.names:
                if a.asname and f"{target}.{a.name}" in MODULES:
                    bound[a.asname] = f"{target}.{a.name}"
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                owner = ".".join([bound[value.id], *reversed(chain[1:])])
                if owner in MODULES and owner != module.name:
                    uses.append((node.lineno, f"{owner}.{node.attr}"))
    return uses


def test_the_check_sees_every_part():
    parts = {m.part for m in MODULES.values()}
    assert parts == {"robot", "firmware_bridge", "export", "calib"}
    assert "vla_lite.firmware_bridge.link" in MODULES and "vla_lite.export.fit" in MODULES
    assert "vla_lite.loop" in MODULES and "vla_lite.calib.stats" in MODULES


def test_the_checker_catches_what_it_claims_to(tmp_path):
    """The rules applied to a handful of made-up modules: each kind of breach is found, the allowed forms are not."""
    def fake(name: str, source: str, init: bool = False) -> Module:
        path = ROOT / "vla_lite" / ("x/__init__.py" if init else "x.py")
        return Module(name, path, ast.parse(source))

    lazy = fake("vla_lite.loop", "def f():\n    from .export import fit\n    from . import export\n")
    assert [m for _, m in imported_project_modules(lazy)] == ["vla_lite.export.fit", "vla_lite.export"]
    pkg = fake("vla_lite.worlds", "from ..export.fit import x\n", init=True)
    assert [m for _, m in imported_project_modules(pkg)] == ["vla_lite.export.fit"]
    sneaky = fake("vla_lite.loop", "from .firmware_bridge.virtual_arm import _Hidden, VirtualArm\n"
                                   "from .firmware_bridge import link as l\n"
                                   "import vla_lite.firmware_bridge.protocol\n"
                                   "l._wait(1); vla_lite.firmware_bridge.protocol._x; self._ok\n")
    assert sorted(u for _, u in private_uses(sneaky)) == [
        "vla_lite.firmware_bridge.link._wait", "vla_lite.firmware_bridge.protocol._x",
        "vla_lite.firmware_bridge.virtual_arm._Hidden"]


def breaches() -> list[str]:
    found = []
    for m in MODULES.values():
        for line, target in imported_project_modules(m):
            t = part_of(target)
            if m.part == "robot" and t == "export":
                found.append(f"{m.rel}:{line}: the robot side imports the offline path ({target})")
            elif m.part == "firmware_bridge" and t != "firmware_bridge":
                found.append(f"{m.rel}:{line}: firmware_bridge imports another part of the project ({target})")
            elif m.part == "calib" and t == "export":
                found.append(f"{m.rel}:{line}: calib imports export ({target})")
    return found


def test_import_directions():
    assert breaches() == []


def test_no_module_uses_another_modules_private_names():
    found = [(m.name, use) for m in MODULES.values() for _, use in private_uses(m)]
    assert found == []


@pytest.mark.parametrize("folder", LENGTH_CHECKED)
def test_no_function_is_longer_than_the_limit(folder):
    long = []
    for m in MODULES.values():
        if not m.rel.startswith(folder + "/"):
            continue
        for node in ast.walk(m.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{m.rel}:{node.lineno} {node.name}: {n} lines")
    assert long == []


def test_no_merge_leftovers_and_every_script_parses():
    """A merge conflict marker committed by mistake (one sat in benchmarks/ unnoticed: nothing imports a benchmark)
    and any Python file that does not parse, benchmarks and tests included."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    marked, broken = [], []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".cfg", ".toml", ".c", ".h", ".ino", ".json") or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if any(line.startswith(("<<<<<<< ", ">>>>>>> ")) for line in text.splitlines()):
            marked.append(name)
        if path.suffix == ".py":
            try:
                ast.parse(text, name)
            except SyntaxError as exc:
                broken.append(f"{name}: {exc}")
    assert not marked and not broken, (marked, broken)
