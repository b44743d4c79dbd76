"""The layer contracts in pyproject.toml ([tool.importlinter]) hold."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is a test dependency: pip install -e '.[test]'"
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert ruff, "ruff is a test dependency: pip install -e '.[test]'"
    result = subprocess.run(
        [ruff, "check", "app", "tests", "main.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tree_is_formatted():
    """One format for every file (``ruff format``); run it before committing."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert ruff, "ruff is a test dependency: pip install -e '.[test]'"
    result = subprocess.run(
        [ruff, "format", "--check", "app", "tests", "main.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Packages (or modules) that must not import PySide6.QtWidgets/QtGui widgets or pyqtgraph.
NO_WIDGETS = [
    "app/device",
    "app/engine",
    "app/store",
    "app/scope/core",
    "app/commands",
    "app/paths.py",
    "app/service",
    "app/teaching",
]


def _imports(path: Path) -> set[str]:
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_no_widgets_outside_ui():
    offenders = []
    for entry in NO_WIDGETS:
        target = ROOT / entry
        files = [target] if target.is_file() else sorted(target.rglob("*.py"))
        for f in files:
            bad = {
                n
                for n in _imports(f)
                if n.startswith(("PySide6.QtWidgets", "pyqtgraph", "PySide6.QtSvgWidgets"))
            }
            if bad:
                offenders.append(f"{f.relative_to(ROOT)}: {sorted(bad)}")
    assert not offenders, "widgets imported outside app/ui:\n" + "\n".join(offenders)


def test_only_the_output_authority_holds_the_links_raising_commands():
    """No code outside the authority binds a link or passes ``by=`` to the link's raising
    commands: every other path asks the authority (docs/safety.md)."""
    import ast

    allowed = {ROOT / "app" / "engine" / "authority.py"}
    raising = {"set_output", "start_output", "resume", "send"}
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        if path in allowed or path.parent == ROOT / "app" / "device":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name == "bind_authority" or (
                name in raising and any(k.arg == "by" for k in node.keywords)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not offenders, offenders
