"""Train the Rasa model only when its inputs changed.

The model file is named after a fingerprint of everything that shapes it
(config, domain, training data, jieba dictionary, custom NLU components and
the Rasa version), so "is there a model for these inputs?" is a file lookup.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT

MODEL_INPUTS = (
    "config.yml",
    "domain.yml",
    "data",
    "bot/service_data/lexicon",
    "bot/rasa_ext/tokenizer.py",
    "bot/text.py",
)


def _files(root: Path) -> list[Path]:
    out: list[Path] = []
    for rel in MODEL_INPUTS:
        p = root / rel
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
    return sorted(out)


def fingerprint(root: Path = PROJECT_ROOT) -> str:
    """Hash of all model inputs' paths and contents plus the Rasa version."""
    import rasa  # lazy: Rasa takes seconds to import; only the fingerprint needs its version

    h = hashlib.sha256(f"rasa={rasa.__version__}".encode())
    for f in _files(root):
        h.update(str(f.relative_to(root)).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def model_path(model_dir: Path, root: Path = PROJECT_ROOT) -> Path:
    return model_dir / f"yuanshang-{fingerprint(root)}.tar.gz"


def ensure_model(model_dir: Path, root: Path = PROJECT_ROOT, log=print) -> Path:
    """Return the model for the current inputs, training it first if missing.

    A lock file serialises concurrent callers (tests, benchmarks, `make run`):
    the second waits and then finds the model the first one trained.
    """
    target = model_path(model_dir, root)
    if target.exists():
        log(f"模型已是最新（{target.name}），跳过训练。")
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    with open(model_dir / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        model = _train(target, model_dir, root, log)
        _prune(model_dir, keep=model)
        return model


def _prune(model_dir: Path, keep: Path, newest: int = 3) -> None:
    """Keep the new model and the few newest others (a 60 MB file per data change adds up)."""
    old = sorted(
        (p for p in model_dir.glob("yuanshang-*.tar.gz") if p != keep), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for p in old[newest - 1 :]:
        p.unlink(missing_ok=True)


def _train(target: Path, model_dir: Path, root: Path, log) -> Path:
    log(f"训练数据或配置有变化，开始训练模型 → {target.name}（首次约需几分钟）…")
    cmd = [
        sys.executable,
        "-m",
        "rasa",
        "train",
        "--config",
        str(root / "config.yml"),
        "--domain",
        str(root / "domain.yml"),
        "--data",
        str(root / "data"),
        "--out",
        str(model_dir),
        "--fixed-model-name",
        target.name[: -len(".tar.gz")],
    ]
    subprocess.run(cmd, cwd=root, check=True)
    if not target.exists():
        raise RuntimeError(f"训练结束但没有找到模型文件 {target}")
    return target


if __name__ == "__main__":
    from bot.settings import Settings

    print(ensure_model(Settings.from_env().model_dir))
