"""examples/images/dvc.yaml: wired like the main pipeline (deps cover every module the image
stages import) and `dvc repro` of it runs end to end in a fresh git repository."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.test_dvc_pipeline import _run
from tests.test_dvc_wiring import _stage_files

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "images"
DVC = yaml.safe_load((EXAMPLE / "dvc.yaml").read_text())


def test_image_stages_depend_on_every_module_they_import():
    for name, stage in DVC["stages"].items():
        deps = [(EXAMPLE / d).resolve() for d in stage["deps"]]
        for dep in deps:
            assert dep.exists() or "/data/" in str(dep) or "/reports/" in str(dep), dep
        files = _stage_files(name, "image")
        missing = sorted(str(f.relative_to(ROOT)) for f in files
                         if not any(f == d or d in f.parents for d in deps))
        assert not missing, f"image stage {name}: dvc.yaml deps miss {missing}"


def test_image_params_load_and_select_the_image_family():
    from pipeline.config import load_params
    from pipeline.families import for_dataset, for_model

    params = load_params(EXAMPLE / "params.yaml")
    assert for_dataset(params.prepare.dataset).name == "image"
    assert for_model(params.train.model).name == "image"


@pytest.mark.slow
def test_dvc_repro_of_the_image_pipeline_from_a_fresh_clone(tmp_path):
    repo = tmp_path / "clone"
    shutil.copytree(ROOT / "pipeline", repo / "pipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".dvc").mkdir()
    for name in (".dvc/config", ".dvc/.gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    (repo / "examples" / "images").mkdir(parents=True)
    shutil.copy(EXAMPLE / "dvc.yaml", repo / "examples" / "images" / "dvc.yaml")
    shutil.copy(EXAMPLE / ".gitignore", repo / "examples" / "images" / ".gitignore")
    params = yaml.safe_load((EXAMPLE / "params.yaml").read_text())
    params["train"].update(steps=60, batch_size=32, generator_dims=[32, 16],
                           discriminator_dims=[16, 32], embedding_dim=16)
    params["generate"]["rows"] = 200
    params["gate"]["thresholds"] = {"privacy.image_nn_train_share": 0.9}
    (repo / "examples" / "images" / "params.yaml").write_text(yaml.safe_dump(params))
    _run(["git", "init", "-q"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "init"], repo)
    _run(["dvc", "repro", "examples/images/dvc.yaml"], repo)
    out = repo / "examples" / "images"
    for path in ("data/prepared/train.npz", "data/models/model.ckpt",
                 "data/synthetic/images/grid.png", "data/synthetic/images/interpolation.png",
                 "data/synthetic/images/arithmetic.png", "reports/train/snapshots.npz",
                 "reports/report.html", "reports/gate.json"):
        assert (out / path).is_file(), path
    assert json.loads((out / "reports" / "gate.json").read_text())["passed"] is True
    again = _run(["dvc", "repro", "examples/images/dvc.yaml"], repo)
    assert "didn't change" in again.stdout or "up to date" in again.stdout
