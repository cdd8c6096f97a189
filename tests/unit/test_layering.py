"""The layers of docs/architecture.md hold: `lint-imports` (contracts in pyproject.toml) finds no broken contract.

Function-level imports count like module-level ones; a new import that breaks a layer (the domain core
importing rasa or the desk, the desk importing the runtime, …) or closes an import cycle fails here, so it
fails `make test-fast`, `make test` and CI.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports() -> str:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "lint-imports is missing: pip install -c constraints.txt -e .[dev]"
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out


def test_import_contracts_are_kept():
    out = lint_imports()
    assert "0 broken" in out and "KEPT" in out, out
