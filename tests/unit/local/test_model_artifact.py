"""A model version's directory: the trial's, the artifact's own folder, or model.tar.gz unpacked once."""

from __future__ import annotations

import io
import tarfile

import pytest
from mlpipe.errors import MlPipeError
from mlpipe.local.model_artifact import model_dir_of
from mlpipe.services.storage import LocalStorage


def _model(path):
    path.mkdir(parents=True)
    (path / "feature_schema.json").write_text("{}")
    (path / "xgboost-model").write_text("m")
    return path


def _tar(path, src):
    with tarfile.open(path, "w:gz") as tar:
        for f in src.iterdir():
            tar.add(f, arcname=f.name)
    return path


def package(model_uri, **lineage):
    return {"group": "g", "version": 2, "model_uri": model_uri, "lineage": lineage}


def test_the_trial_directory_first_then_the_artifact_folder(tmp_path):
    trial, artifact = _model(tmp_path / "trial"), _model(tmp_path / "artifact")
    dest = tmp_path / "dest"
    assert model_dir_of(package(str(artifact), best_trial={"model_dir": str(trial)}), LocalStorage(), dest) == trial
    assert model_dir_of(package(artifact.as_uri(), best_trial={"model_dir": str(tmp_path / "gone")}),
                        LocalStorage(), dest) == artifact
    assert model_dir_of(package(str(artifact)), LocalStorage(), dest) == artifact
    assert not dest.exists()


def test_model_tar_gz_is_unpacked_once(tmp_path):
    tar = _tar(tmp_path / "model.tar.gz", _model(tmp_path / "m"))
    dest = tmp_path / "models" / "g" / "v2"
    got = model_dir_of(package(tar.as_uri()), LocalStorage(), dest)
    assert got == dest and (dest / "xgboost-model").read_text() == "m"
    tar.unlink()  # unpacked before: not fetched again
    assert model_dir_of(package(tar.as_uri()), LocalStorage(), dest) == dest
    assert sorted(p.name for p in dest.parent.iterdir()) == ["v2"]  # no temporary left


def test_a_missing_artifact_says_which(tmp_path):
    with pytest.raises(MlPipeError, match="version 2 of g: model artifact file://.*/nothing.tar.gz does not exist"):
        model_dir_of(package(str(tmp_path / "nothing.tar.gz")), LocalStorage(), tmp_path / "dest")


def test_a_tar_that_escapes_is_refused(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(tarfile.TarError):
        model_dir_of(package(bad.as_uri()), LocalStorage(), tmp_path / "dest")
    assert not (tmp_path / "escape").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dest")]  # the temporary goes too
