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


# Where TensorFlow may be imported inside a function: the package's front door
# (`latens.choose`, `latens.predict`), `runtime` (which configs import for its
# names, TensorFlow-free) and `data`'s tensorflow-datasets download. Every
# other module imports what it needs at its top.
LAZY_EDGES = {"latens", "latens.runtime", "latens.data"}
HEAVY = ("tensorflow", "keras", "tensorflow_datasets", "latens.train", "latens.models", "latens.select.choice",
         "latens.select.folder")


def function_imports(path: pathlib.Path) -> set[str]:
    """The modules a file imports inside a function."""
    names = set()
    for function in (n for n in ast.walk(ast.parse(path.read_text()))
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


@pytest.mark.parametrize("module", sorted(set(MODULES) - LAZY_EDGES))
def test_tensorflow_is_imported_lazily_only_at_the_packages_edges(module):
    lazy = {name for name in function_imports(MODULES[module]) if any(within(name, heavy) for heavy in HEAVY)}
    assert not lazy, f"{module} imports {sorted(lazy)} inside a function"


def test_configs_and_checks_import_without_tensorflow():
    import subprocess
    import sys

    light = ["latens", "latens.checks", "latens.representations", "latens.flagconfig", "latens.runtime",
             "latens.data", "latens.sampling", "latens.prelabels", "latens.select.labels",
             "latens.select.label_studio", "latens.select.outdir"]
    code = f"import sys\nfor m in {light!r}: __import__(m)\nprint('tensorflow' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "False"
