"""Static checks that run with the unit tests (so in `make test-fast`, `make test` and CI); `make lint` runs the same.

- `lint-imports` (contracts in pyproject.toml [tool.importlinter]): the layers of docs/architecture.md hold.
  Function-level imports count like module-level ones; a new import that breaks a layer (the domain core
  importing rasa or the desk, the desk importing the runtime, …) or closes an import cycle fails here, with
  the chain that breaks it.
- `ruff check` (rules in pyproject.toml [tool.ruff.lint]): no syntax errors or undefined names anywhere.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_tool(name: str, *args: str) -> tuple[int, str]:
    exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert exe, f"{name} is missing: pip install -c constraints.txt -e .[dev]"
    proc = subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_import_contracts_are_kept():
    code, out = run_tool("lint-imports", "--no-cache")
    assert code == 0, out
    assert "0 broken" in out and "KEPT" in out, out


def test_ruff_finds_nothing():
    code, out = run_tool("ruff", "check", "--no-cache", ".")
    assert code == 0, out


# ---- one settings object (issue 15) --------------------------------------------------------------

# The modules that may read the process environment, and why. Everything else receives bot.settings.Settings
# (the desk holds it under SETTINGS_KEY; the action server, the scheduler and the command lines call
# Settings.from_env()). Launch code that hands an environment to child processes belongs here too.
ENV_READERS = {
    "bot/settings.py": "Settings.from_env reads every variable once; child_env passes them to child processes",
}
ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def environment_reads(source: str) -> list[int]:
    """Line numbers where `source` reads the environment through the os module (os.environ, os.getenv,
    an alias of os, or those names imported from os)."""
    import ast

    tree = ast.parse(source)
    os_names = {"os"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines += [node.lineno for a in node.names if a.name in ENV_NAMES]
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in ENV_NAMES
                and isinstance(node.value, ast.Name) and node.value.id in os_names):
            lines.append(node.lineno)
    return sorted(lines)


def test_the_environment_check_finds_the_ways_of_reading_it():
    assert environment_reads("import os\nx = os.environ.get('A')\ny = os.getenv('B')\n") == [2, 3]
    assert environment_reads("import os as o\nx = o.environ['A']\n") == [2]
    assert environment_reads("from os import environ, path\n") == [1]
    assert environment_reads("import os\nos.umask(0o077)\nsettings.environ\n") == []


def test_only_the_settings_module_reads_the_environment():
    readers = {}
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("actions/**/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        lines = environment_reads(path.read_text(encoding="utf-8"))
        if lines and rel not in ENV_READERS:
            readers[rel] = lines
    assert not readers, (
        f"these modules read os.environ / os.getenv: {readers}. Add the variable to bot.settings.Settings "
        "(from_env, child_env, README \"Configuration\") and pass the Settings object or the value instead")
    for rel in ENV_READERS:
        assert environment_reads((ROOT / rel).read_text(encoding="utf-8")), f"{rel} no longer reads the environment"
