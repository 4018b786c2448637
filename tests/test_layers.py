"""The package's layers: the core library imports neither the tool nor the research harness; the tool not the harness."""

import ast
import pathlib

import pytest

import latens

PACKAGE = pathlib.Path(latens.__file__).parent
TOOL, RESEARCH = "latens.select", "latens.research"


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: pathlib.Path) -> set[str]:
    """Every module a file imports, at its top or inside a function (`from latens import x` names `latens.x`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def within(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
# The package's front door, `latens.choose`, is the tool's: the one core file that may reach it (lazily).
CORE = [name for name in MODULES if not within(name, TOOL) and not within(name, RESEARCH) and name != "latens"]


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_neither_the_tool_nor_the_research_harness(module):
    wrong = {name for name in imported(MODULES[module]) if within(name, TOOL) or within(name, RESEARCH)}
    assert not wrong, f"{module} imports {sorted(wrong)}"


@pytest.mark.parametrize("module", [name for name in MODULES if within(name, TOOL)])
def test_the_tool_does_not_import_the_research_harness(module):
    wrong = {name for name in imported(MODULES[module]) if within(name, RESEARCH)}
    assert not wrong, f"{module} imports {sorted(wrong)}"


def test_every_layer_is_there():
    assert {TOOL, RESEARCH, "latens.train", "latens.sampling"} <= set(MODULES)
    assert len(CORE) > 20
