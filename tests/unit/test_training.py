"""Retraining happens only when model inputs change."""

import shutil

from bot.rasa_ext import training
from bot.settings import PROJECT_ROOT


def copy_inputs(dst):
    for rel in training.MODEL_INPUTS:
        src = PROJECT_ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dst / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)


def test_fingerprint_is_stable_and_tracks_data_changes(tmp_path):
    copy_inputs(tmp_path)
    first = training.fingerprint(tmp_path)
    assert training.fingerprint(tmp_path) == first
    assert first == training.fingerprint(PROJECT_ROOT)

    nlu = tmp_path / "data/nlu/meta.yml"
    nlu.write_text(nlu.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert training.fingerprint(tmp_path) != first


def test_existing_model_is_reused_without_training(tmp_path, monkeypatch):
    copy_inputs(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    target = training.model_path(models, tmp_path)
    target.write_bytes(b"model")

    def boom(*a, **k):
        raise AssertionError("must not train")

    monkeypatch.setattr(training.subprocess, "run", boom)
    assert training.ensure_model(models, tmp_path, log=lambda m: None) == target
