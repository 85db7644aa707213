"""The shared package's modules import in one direction: no module imports one that imports it
back, and the event contracts stand alone (every service reads them; they read no service)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "shared" / "python" / "orderflow"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = PACKAGE.parent.joinpath(*name.split("."))
    return relative.with_suffix(".py").is_file() or (relative / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every orderflow module `path` imports, at module level or inside a function
    (`from orderflow.ops import dlq` imports `orderflow.ops.dlq`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("orderflow"):
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}" for alias in node.names if _is_module(f"{node.module}.{alias.name}")
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("orderflow"))
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in `graph`, if there is one."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return [*visiting[visiting.index(module) :], module]
        if module in done or module not in graph:
            return None
        visiting.append(module)
        for imported in sorted(graph[module]):
            if found := visit(imported):
                return found
        visiting.pop()
        done.add(module)
        return None

    return next((found for module in sorted(graph) if (found := visit(module))), None)


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = _graph()
    graph["orderflow.events"] = graph["orderflow.events"] | {"orderflow.domain.errors"}
    graph["orderflow.domain.errors"] = graph["orderflow.domain.errors"] | {"orderflow.events"}

    assert _cycle(graph) is not None


def test_an_imported_module_counts_as_imported() -> None:
    assert "orderflow.ops.dlq" in _graph()["orderflow.ops.failures"]
    assert "orderflow.ops.failures" in _graph()["orderflow.ops.__main__"]  # `from orderflow.ops import failures`


def test_contracts_and_events_import_no_domain_service_or_adapter() -> None:
    for module, imported in _graph().items():
        if module == "orderflow.contracts" or module.startswith("orderflow.events"):
            outside = {name for name in imported if name.split(".")[1] not in ("contracts", "events")}
            assert outside == set(), module


def test_building_the_stack_loads_no_function_runtime() -> None:
    """`infra/` takes names and models from the package, never the functions' runtime (Powertools
    observability, the shared SDK session): loading that at synth would create an SDK session
    before any test's AWS mock could register with it."""
    import subprocess
    import sys

    probe = (
        "import sys, app; print(sorted(m for m in sys.modules if m in ('orderflow.observability', 'orderflow.http')))"
    )
    root = PACKAGE.parents[3]
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True, timeout=120
    )

    assert result.stdout.strip().splitlines()[-1] == "[]"
