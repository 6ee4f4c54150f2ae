"""The package code a workflow stage runs, found from its imports, and a digest of it.

A rule hands Snakemake the digest of its stage's code as a param, so a change to that code reruns the stage.
The code is the import closure of the rule's script: every ``cimpipe`` module the script imports, directly or
through the modules it imports (imports inside functions included, and the packages whose ``__init__`` an
import runs), plus the data files (YAML, JSON, CSV) kept in those modules' folders. A change to a module
that a stage never reaches leaves its digest alone. The imports are read with :mod:`ast`; nothing is
imported.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = "cimpipe"
PACKAGE_DIR = Path(__file__).resolve().parent
DATA_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".js", ".css", ".html")  # the explorer page is HTML, CSS, JS


def module_file(name: str) -> Path | None:
    """The source file of package module ``name`` (``cimpipe.hw`` -> ``hw/__init__.py``); None if ``name`` is
    no module of the package (a function or class imported from one, say)."""
    base = PACKAGE_DIR.joinpath(*name.split(".")[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file() and name != PACKAGE:
        return base.with_suffix(".py")
    return None


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from ... import`` names, relative imports resolved against ``module``."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imported_names(source: Path, module: str = "") -> set[str]:
    """The ``cimpipe`` names a file imports anywhere in it: modules, and ``module.name`` for each name taken
    from one (a submodule when it is one). ``module`` is the file's own dotted name (for relative imports)."""
    tree = ast.parse(source.read_text(), filename=str(source))
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` blocks never run: their imports are no dependency
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, source.name == "__init__.py")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


@lru_cache(maxsize=None)
def _imports_of(name: str) -> frozenset[str]:
    path = module_file(name)
    return frozenset(imported_names(path, name)) if path else frozenset()


def import_closure(*names: str) -> list[str]:
    """Every package module that importing ``names`` runs, sorted (parent packages included)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        parts = todo.pop().split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in seen or module_file(name) is None:
                continue
            seen.add(name)
            todo.extend(_imports_of(name))
    return sorted(seen)


def _data_files(folder: Path) -> list[Path]:
    """Data files in ``folder`` and in its subfolders that are not packages (``hw/data/*.yaml``)."""
    found = [p for p in folder.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES]
    for sub in folder.iterdir():
        if sub.is_dir() and not (sub / "__init__.py").exists() and sub.name != "__pycache__":
            found += [p for p in sub.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES]
    return found


def closure_files(*names: str) -> list[Path]:
    """The source and data files of :func:`import_closure`, sorted."""
    sources = [module_file(name) for name in import_closure(*names)]
    files = set(sources)
    for folder in {path.parent for path in sources}:
        files.update(_data_files(folder))
    return sorted(files)


def script_modules(script: Path | str) -> list[str]:
    """The package modules a script (a workflow rule's) runs: the import closure of what it imports."""
    script = Path(script)
    if not script.is_file():
        raise FileNotFoundError(f"stage script {script} does not exist")
    return import_closure(*imported_names(script))


def script_digest(script: Path | str) -> str:
    """sha256 (16 hex) over the package files a script reaches (names relative to the package, and bytes)."""
    h = hashlib.sha256()
    for path in closure_files(*script_modules(script)):
        h.update(str(path.relative_to(PACKAGE_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
