"""The lock files (requirements/, made by scripts/lock.sh) pin what pyproject.toml asks for.

scripts/_setup.sh installs them with ``pip install --require-hashes``: every package pinned
exactly, with hashes; the console's lock at the test lock's versions; every pin inside
pyproject.toml's ranges (PySide6 below 6.12 until tests/test_soak.py passes on a newer one).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "test": ROOT / "requirements" / "lock-test.txt",
    "postgres": ROOT / "requirements" / "lock.txt",
}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)")


def read_lock(path: Path) -> dict[str, tuple[Version, int]]:
    """name -> (version, number of hashes) of each requirement in a lock file."""
    pins: dict[str, tuple[Version, int]] = {}
    name = None
    for line in path.read_text().splitlines():
        if m := PIN.match(line):
            name = canonicalize_name(m.group(1))
            pins[name] = (Version(m.group(2)), 0)
        elif line.strip().startswith("--hash=sha256:") and name is not None:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
        elif line and not line.startswith((" ", "#")):
            pytest.fail(f"{path.name}: not a pinned requirement: {line!r}")
    return pins


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("extra", sorted(LOCKS))
def test_lock_pins_every_dependency_in_range_with_hashes(extra):
    pins = read_lock(LOCKS[extra])
    wanted = [Requirement(r) for r in project()["dependencies"]]
    wanted += [Requirement(r) for r in project()["optional-dependencies"][extra]]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"{LOCKS[extra].name} lacks {req.name}: run bash scripts/lock.sh"
        version, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"{LOCKS[extra].name}: {name}=={version} is outside pyproject's {req}"
        )
    for name, (version, hashes) in pins.items():
        assert hashes >= 1, f"{LOCKS[extra].name}: {name}=={version} has no hash"


def test_console_lock_runs_the_tested_versions():
    tested = read_lock(LOCKS["test"])
    for name, (version, _) in read_lock(LOCKS["postgres"]).items():
        assert name in tested, f"lock.txt has {name}, lock-test.txt not: run bash scripts/lock.sh"
        assert tested[name][0] == version, (
            f"lock.txt has {name}=={version}, lock-test.txt {tested[name][0]}: "
            "run bash scripts/lock.sh"
        )


def test_qt_stays_below_the_known_abort():
    for path in LOCKS.values():
        pins = read_lock(path)
        for name in ("pyside6-essentials", "shiboken6"):
            assert pins[name][0] < Version("6.12"), f"{path.name}: {name} (see tests/test_soak.py)"


def test_setup_installs_from_the_lock_and_stamps_on_it():
    setup = (ROOT / "scripts" / "_setup.sh").read_text()
    assert '--require-hashes -r "$LOCK"' in setup
    assert "--no-deps -e ." in setup
    assert 'cat pyproject.toml "$LOCK" | sha1sum' in setup
