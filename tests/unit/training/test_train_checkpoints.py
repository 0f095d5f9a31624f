"""Checkpoints are atomic and checksummed; only a valid one with the run's fingerprint is resumed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost as xgb
from training.checkpoints import CheckpointStore


@pytest.fixture(scope="module")
def boosters():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    d = xgb.DMatrix(X, label=(X[:, 0] > 0).astype(int))
    params = {"objective": "binary:logistic", "tree_method": "hist", "nthread": 1, "max_depth": 2}
    return {n: xgb.train(params, d, n) for n in (5, 10, 15)}


def store_with(tmp_path, boosters, rounds=(5, 10, 15), keep=3) -> CheckpointStore:
    store = CheckpointStore(str(tmp_path / "ckpt"), keep=keep, log=lambda m: None)
    for r in rounds:
        store.save(boosters[r], r, "fp", {"best_iteration": r - 1})
    return store


def test_newest_valid_checkpoint_is_resumed(tmp_path, boosters):
    store = store_with(tmp_path, boosters)
    ckpt, booster = store.latest_valid("fp")
    assert ckpt.rounds == 15 and booster.num_boosted_rounds() == 15 and ckpt.state == {"best_iteration": 14}
    assert booster.save_raw("ubj") == boosters[15].save_raw("ubj")
    manifest = json.loads((tmp_path / "ckpt" / "ckpt-00000015.json").read_text())
    assert set(manifest) >= {"round", "sha256", "bytes", "fingerprint", "state", "model_file"}


@pytest.mark.parametrize("damage", ["truncate_model", "flip_byte", "bad_manifest", "no_model", "wrong_fingerprint"])
def test_a_damaged_newest_checkpoint_is_skipped(tmp_path, boosters, damage):
    store = store_with(tmp_path, boosters)
    model, manifest = tmp_path / "ckpt" / "ckpt-00000015.ubj", tmp_path / "ckpt" / "ckpt-00000015.json"
    if damage == "truncate_model":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    elif damage == "flip_byte":
        raw = bytearray(model.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        model.write_bytes(bytes(raw))
    elif damage == "bad_manifest":
        manifest.write_text(manifest.read_text()[:40])
    elif damage == "no_model":
        model.unlink()
    else:
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "fingerprint": "other"}))
    skipped = []
    store.log = skipped.append
    ckpt, booster = store.latest_valid("fp")
    assert ckpt.rounds == 10 and booster.num_boosted_rounds() == 10
    assert len(skipped) == 1 and skipped[0].startswith("checkpoint ckpt-00000015.json skipped:")


def test_a_model_without_manifest_never_counts(tmp_path, boosters):
    store = store_with(tmp_path, boosters, rounds=(5,))
    (tmp_path / "ckpt" / "ckpt-00000010.ubj").write_bytes(bytes(boosters[10].save_raw("ubj")))  # killed before manifest
    (tmp_path / "ckpt" / ".ckpt-00000010.json.tmp-1234").write_text("{")
    assert store.latest_valid("fp")[0].rounds == 5
    store.clean_temporaries()
    assert not list((tmp_path / "ckpt").glob(".*tmp*"))


def test_only_the_newest_are_kept(tmp_path, boosters):
    store_with(tmp_path, boosters, keep=2)
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "ckpt-00000010.json", "ckpt-00000010.ubj", "ckpt-00000015.json", "ckpt-00000015.ubj"]


def test_no_checkpoint_means_a_fresh_start(tmp_path):
    assert CheckpointStore(str(tmp_path / "none")).latest_valid("fp") is None
