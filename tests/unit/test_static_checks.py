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
