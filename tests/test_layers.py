"""The layer rule, read from the source's imports (every import, also those
inside functions):

- `monitor.core` imports no other project package;
- a stage (`connectors`, `classifiers`, `alerts`) imports only `monitor.core`
  and itself;
- only the application (the rest of `monitor`) imports the stages;
- no package's modules import each other in a circle.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "connectors", "classifiers", "alerts")
STAGES = ("connectors", "classifiers", "alerts")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, relative ones resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` names a module when pkg/mod.py exists
            for a in node.names:
                candidate = f"{base}.{a.name}"
                as_path = root.joinpath(*candidate.split("."))
                is_module = as_path.with_suffix(".py").exists() or (as_path / "__init__.py").exists()
                found.append((node.lineno, candidate if is_module else base))
    return found


def layer_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if module == "monitor.core" or module.startswith("monitor.core."):
        return "core"
    return "stage" if top in STAGES else "application"


def allowed(importer: str, imported: str) -> bool:
    source, target = layer_of(importer), layer_of(imported)
    if target is None:
        return True  # the standard library or a third-party package
    if source == "core":
        return target == "core"
    if source == "stage":
        return target == "core" or imported.split(".")[0] == importer.split(".")[0]
    return True  # the application may import anything of the project


def source_files(root: Path):
    for package in PACKAGES:
        yield from sorted((root / package).rglob("*.py"))


def breaches(root: Path = ROOT) -> list[str]:
    out = []
    for path in source_files(root):
        importer = module_name(path, root)
        for line, imported in imports_of(path, root):
            if not allowed(importer, imported):
                out.append(f"{path.relative_to(root)}:{line}: {layer_of(importer)} module {importer} "
                           f"imports {imported} ({layer_of(imported)})")
    return out


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Circles of imports among the modules of one top-level package."""
    graph: dict[str, set[str]] = {}
    for path in source_files(root):
        importer = module_name(path, root)
        top = importer.split(".")[0]
        graph[importer] = {m for _, m in imports_of(path, root) if m.split(".")[0] == top and m != importer}
    found, done = [], set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            found.append(stack[stack.index(node):] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ re-exporting its modules is not a circle with them
            if node == nxt.rpartition(".")[0] or nxt == node.rpartition(".")[0]:
                continue
            visit(nxt, stack + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_every_import_follows_the_layer_rule():
    assert breaches() == []


def test_no_package_imports_itself_in_a_circle():
    assert cycles() == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    (tmp_path / "monitor" / "core").mkdir(exist_ok=True)
    (tmp_path / "monitor" / "core" / "__init__.py").touch()
    return tmp_path


def test_it_names_the_file_and_import_of_a_back_import(tmp_path):
    root = _tree(tmp_path, {
        "monitor/core/store.py": "def f():\n    from connectors.base import Batch\n",
        "connectors/base.py": "from monitor.core import store\nfrom monitor import pipeline\n",
        "monitor/pipeline.py": "import connectors.base\n",
        "alerts/service.py": "from classifiers import model\n",
        "classifiers/model.py": "",
    })
    assert sorted(breaches(root)) == [
        "alerts/service.py:1: stage module alerts.service imports classifiers.model (stage)",
        "connectors/base.py:2: stage module connectors.base imports monitor.pipeline (application)",
        "monitor/core/store.py:2: core module monitor.core.store imports connectors.base (stage)",
    ]


def test_it_finds_a_circle_hidden_inside_a_function(tmp_path):
    root = _tree(tmp_path, {
        "alerts/outbox.py": "def deliver():\n    from alerts.notices import queue\n",
        "alerts/notices.py": "from alerts import outbox\n",
    })
    assert cycles(root) == [["alerts.notices", "alerts.outbox", "alerts.notices"]]
