"""The layer contracts in pyproject.toml ([tool.importlinter]) hold."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


# --------------------------------------------------------------------------- colours

_HEX = r"#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4})(?![0-9a-zA-Z_])"
_NAMES = (
    "white|black|red|green|blue|gr[ae]y|yellow|orange|purple|magenta|cyan|pink|brown|"
    "navy|teal|olive|maroon|silver|gold|lime|transparent|dark[a-z]+|light[a-z]+"
)
# in a string: a hex colour, rgb()/rgba()/hsl(), or a colour name after a CSS colour property
_IN_TEXT = (
    rf"{_HEX}|\b(?:rgba?|hsla?)\s*\(|"
    rf"(?:color|background(?:-color)?|border(?:-[a-z]+)*|fill|stroke|outline|"
    rf"selection-[a-z-]+|alternate-background-color)\s*[:=]\s*[^;{{}}<>]*?\b(?:{_NAMES})\b"
)
# a whole string that is a colour (Qt's and pyqtgraph's names, pyqtgraph's one letters)
_COLOUR_WORD = rf"(?:{_NAMES}|[wkrgbcmy])"
# calls that make a colour from numbers (r, g, b / h, s, v …)
_NUMERIC_COLOUR_CALLS = {
    "QColor",
    "mkColor",
    "mkBrush",
    "mkPen",
    "fromRgb",
    "fromRgbF",
    "fromHsv",
    "fromHsvF",
    "fromHsl",
    "fromHslF",
    "fromCmyk",
}
# calls that take a colour, and keyword arguments that are one
_COLOUR_CALLS = _NUMERIC_COLOUR_CALLS | {
    "QBrush",
    "QPen",
    "setBackground",
    "setForeground",
    "fill",
    "setColor",
    "setBrush",
    "setPen",
}
_COLOUR_KEYWORDS = {
    "color",
    "colour",
    "pen",
    "brush",
    "background",
    "foreground",
    "fill",
    "labelTextColor",
    "symbolBrush",
    "symbolPen",
    "fillBrush",
}
_COLOURISH_NAME = r"(?i).*(colou?r|fill|brush|pen|background|bg|foreground|shade|tint)$"


def colour_literals(source: str) -> list[tuple[int, str]]:
    """(line, what) for each colour literal in ``source`` (Python)."""
    import ast
    import re

    in_text, word, named = (
        re.compile(_IN_TEXT),
        re.compile(_COLOUR_WORD),
        re.compile(_COLOURISH_NAME),
    )
    found: list[tuple[int, str]] = []

    def is_rgb_tuple(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Tuple)
            and len(node.elts) in (3, 4)
            and all(
                isinstance(e, ast.Constant) and type(e.value) is int and 0 <= e.value <= 255
                for e in node.elts
            )
        )

    def literal_colour(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and bool(word.fullmatch(node.value.strip()))
        ) or is_rgb_tuple(node)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if m := in_text.search(node.value):
                found.append((node.lineno, m.group(0)))
        elif isinstance(node, ast.Attribute) and (
            node.attr in ("GlobalColor", "QColorConstants")
            or (isinstance(node.value, ast.Name) and node.value.id == "QColorConstants")
            or (
                isinstance(node.value, ast.Name)
                and node.value.id == "Qt"
                and word.fullmatch(node.attr)
                and len(node.attr) > 1
            )
        ):
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _COLOUR_CALLS:
                args = node.args
                if name in _NUMERIC_COLOUR_CALLS and any(
                    isinstance(a, ast.Constant) and type(a.value) in (int, float) for a in args
                ):
                    found.append((node.lineno, f"{name}(r, g, b)"))
                elif args and literal_colour(args[0]):
                    found.append((node.lineno, f"{name}({ast.unparse(args[0])})"))
            for k in node.keywords:
                if k.arg in _COLOUR_KEYWORDS and literal_colour(k.value):
                    found.append((node.lineno, f"{k.arg}={ast.unparse(k.value)}"))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in _COLOUR_KEYWORDS
                    and literal_colour(value)
                ):
                    found.append((node.lineno, f"{key.value!r}: {ast.unparse(value)}"))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if (
                node.value is not None
                and is_rgb_tuple(node.value)
                and any(isinstance(t, ast.Name) and named.match(t.id) for t in targets)
            ):
                found.append((node.lineno, ast.unparse(node.value)))
    return found


def test_colours_come_from_the_palette():
    """Every colour under app/ is named in app/palette.py (one palette, one look)."""
    palette = ROOT / "app" / "palette.py"
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in sorted((ROOT / "app").rglob("*.py"))
        if path != palette
        for line, what in colour_literals(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "colour literals outside app/palette.py:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "source",
    [
        'X = "#1f6feb"',
        'label.setStyleSheet("color:#6b7280")',
        'label.setStyleSheet(f"background:{c}; color: white")',
        'w.setStyleSheet("QLabel { border: 1px solid lightgray; }")',
        'S = "color: rgba(0, 0, 0, 40)"',
        "p.setBrush(QColor(31, 111, 235, 110))",
        'img.fill(QColor("white"))',
        "item.setForeground(Qt.GlobalColor.white)",
        "pen.setColor(Qt.white)",
        "brush = QBrush(QColorConstants.Svg.navy)",
        "c = QColor.fromRgbF(0.2, 0.4, 0.6)",
        "c = QColor.fromHsv(120, 255, 200)",
        'plot = pg.PlotWidget(background="w")',
        'curve = plot.plot(pen="c")',
        'chart.setBackground("k")',
        "POS_FILL = (255, 196, 0, 70)",
        'opts = {"color": "red", "fill": (0, 0, 0, 170)}',
    ],
)
def test_the_colour_check_finds_each_kind_of_literal(source):
    assert colour_literals(source), source


@pytest.mark.parametrize(
    "source",
    [
        "X = palette.ACCENT",
        'label.setStyleSheet(f"color:{palette.MUTED}")',
        "lay.setContentsMargins(0, 0, 0, 0)",
        "BEEPS = (0, 250, 250)",
        'side = "l" if left else "r"',
        "# a comment with #abcdef in it",
        'text = "see issue #12 and the border of the face"',
        "p.setBrush(QColor(*palette.FACE_HALO))",
    ],
)
def test_the_colour_check_lets_names_through(source):
    assert colour_literals(source) == [], source
