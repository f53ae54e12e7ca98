"""The image family end to end on the built-in 8x8 digits: prepare -> train (real steps) ->
generate (PNG, grids, decode shape/dtype, label conditions) -> interpolate (endpoints) ->
evaluate (registry metrics) -> gate; folder loading errors; family selection."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.config import params_from_dict
from pipeline.errors import UserError
from pipeline.families import FAMILIES, for_dataset, for_model, for_prepared
from pipeline.images import datasets
from pipeline.images.files import read_npz, write_class_pngs
from pipeline.metrics.registry import METRICS

TINY_TRAIN = {"model": "dcgan", "steps": 40, "batch_size": 32, "embedding_dim": 16,
              "generator_dims": [32, 16], "discriminator_dims": [16, 32], "pac": 1,
              "calibrate": False, "ema_decay": 0.9, "accelerator": "cpu",
              "checkpoint_every": 0, "max_minutes": None}


def _params(dataset="digits", **train):
    return params_from_dict({"seed": 3, "prepare": {"dataset": str(dataset)},
                             "train": {**TINY_TRAIN, **train}, "generate": {"rows": 60},
                             "gate": {"thresholds": {"privacy.image_nn_train_share": 0.9}}})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    params = _params()
    for_dataset("digits").verb("prepare")(params, root / "prepared")
    for_model("dcgan").verb("train")(params, root / "prepared", root / "model.ckpt",
                                     root / "train_log")
    return root, params


def test_family_is_chosen_by_dataset_model_and_prepared_data(trained, tmp_path):
    root, _ = trained
    assert for_dataset("digits").name == "image" and for_dataset("mnist").name == "image"
    assert for_dataset("credit").name == "tabular"
    assert for_dataset(str(tmp_path)).name == "image"  # a folder of class folders
    assert for_model("ctgan") is FAMILIES["tabular"] and for_model("dcgan") is FAMILIES["image"]
    assert for_prepared(root / "prepared").name == "image"
    with pytest.raises(UserError, match="unknown model 'gan9'"):
        for_model("gan9")


def test_tabular_model_on_image_data_is_a_clear_error(trained, tmp_path):
    root, _ = trained
    from pipeline.families import check_prepared

    with pytest.raises(UserError, match="holds image data .use train.model: dcgan"):
        check_prepared(root / "prepared", FAMILIES["tabular"], "ctgan")


def test_prepare_writes_stratified_uint8_splits(trained):
    root, _ = trained
    train, hold = read_npz(root / "prepared" / "train.npz"), read_npz(root / "prepared" / "holdout.npz")
    assert train["images"].dtype == np.uint8 and train["images"].shape[1:] == (8, 8, 1)
    assert len(train["images"]) + len(hold["images"]) == 1797
    share = np.bincount(hold["labels"], minlength=10) / np.bincount(train["labels"], minlength=10)
    assert np.allclose(share, 0.3 / 0.7, atol=0.05)  # stratified by class
    assert train["images"].max() == 255  # digits' 0..16 scaled to 0..255


def test_generate_decodes_images_of_the_right_shape_and_class(trained, tmp_path):
    root, params = trained
    out = tmp_path / "gen"
    FAMILIES["image"].verb("generate")(params, root / "model.ckpt", out, rows=30,
                                       conditions={"label": "3"}, seed=5)
    arrays = read_npz(out / "images.npz")
    assert arrays["images"].shape == (30, 8, 8, 1) and arrays["images"].dtype == np.uint8
    assert (arrays["labels"] == 3).all()
    pngs = sorted((out / "png" / "3").glob("*.png"))
    assert len(pngs) == 30
    assert np.array_equal(np.asarray(Image.open(pngs[0]))[..., None], arrays["images"][0])
    assert Image.open(out / "grid.png").size[0] > 8 * 10  # a grid, upscaled
    assert json.loads((out / "arithmetic.json").read_text())["moves"] == [0, 1, 2]
    # the same seed gives the same images; another seed other images
    again = tmp_path / "again"
    FAMILIES["image"].verb("generate")(params, root / "model.ckpt", again, rows=30,
                                       conditions={"label": "3"}, seed=5)
    assert np.array_equal(read_npz(again / "images.npz")["images"], arrays["images"])
    with pytest.raises(UserError, match="label=12"):
        FAMILIES["image"].verb("generate")(params, root / "model.ckpt", tmp_path / "x",
                                           rows=3, conditions={"label": "12"})


def test_interpolation_endpoints_are_the_endpoint_samples(trained, tmp_path):
    root, params = trained
    gen = FAMILIES["image"].verb("generate")
    ends = []
    for seed in (11, 12):
        gen(params, root / "model.ckpt", tmp_path / f"s{seed}", rows=1,
            conditions={"label": "7"}, seed=seed)
        ends.append(read_npz(tmp_path / f"s{seed}" / "images.npz")["images"][0])
    FAMILIES["image"].verb("interpolate")(params, root / "model.ckpt", tmp_path / "path",
                                          (11, 12), 6, conditions={"label": "7"})
    walk = read_npz(tmp_path / "path" / "interpolation.npz")["images"]
    assert walk.shape == (6, 8, 8, 1)
    assert np.array_equal(walk[0], ends[0]) and np.array_equal(walk[-1], ends[1])
    assert not np.array_equal(walk[2], walk[0])  # the path moves


def test_evaluate_writes_registered_image_metrics_and_a_report(trained, tmp_path):
    root, params = trained
    gen_dir = tmp_path / "gen"
    FAMILIES["image"].verb("generate")(params, root / "model.ckpt", gen_dir, seed=1)
    FAMILIES["image"].verb("evaluate")(params, root / "prepared", gen_dir, root / "train_log",
                                       tmp_path / "reports")
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert set(metrics) <= set(METRICS)
    assert {"image.frechet", "image.precision", "image.recall",
            "image.conditional_accuracy", "privacy.image_nn_train_share"} <= set(metrics)
    # real holdout images score far better than a 40-step generator: the metrics discriminate
    assert metrics["image.frechet_holdout"] < metrics["image.frechet"]
    assert metrics["image.precision_holdout"] > 0.8
    details = json.loads((tmp_path / "reports" / "details.json").read_text())
    assert len(details["separability"]) >= 1  # snapshots from training were scored
    html = (tmp_path / "reports" / "report.html").read_text()
    for section in ("Latent interpolation", "Latent arithmetic", "closest generated/train",
                    "adversarial game", "data:image/png;base64"):
        assert section in html
    from pipeline.stages import gate

    gate.run(params, tmp_path / "reports" / "metrics.json", tmp_path / "gate.json")


def test_folder_round_trip_and_errors(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (6, 8, 12, 1), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1, 0, 1])
    write_class_pngs(images, labels, ["cat", "dog"], tmp_path / "ok")
    back, back_labels, classes = datasets.load_folder(tmp_path / "ok")
    assert classes == ["cat", "dog"] and back.shape == (6, 8, 12, 1)
    order = np.argsort(labels, kind="stable")
    assert np.array_equal(back, images[order]) and np.array_equal(back_labels, labels[order])

    (tmp_path / "ok" / "dog" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"cannot read image .*broken\.png"):
        datasets.load_folder(tmp_path / "ok")
    (tmp_path / "ok" / "dog" / "broken.png").unlink()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "ok" / "cat" / "big.png")
    with pytest.raises(UserError, match=r"big\.png is 16x16 .* all images must have one size"):
        datasets.load_folder(tmp_path / "ok")
    (tmp_path / "one" / "a").mkdir(parents=True)
    with pytest.raises(UserError, match="one subfolder per class"):
        datasets.load_folder(tmp_path / "one")


def test_cli_prepare_on_a_bad_folder_is_one_line_and_writes_nothing(tmp_path):
    folder = tmp_path / "imgs"
    write_class_pngs(np.zeros((4, 6, 6, 1), np.uint8), np.array([0, 1, 0, 1]), ["a", "b"],
                     folder)
    (tmp_path / "params.yaml").write_text(f"prepare:\n  dataset: {folder}\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "prepare", "--params",
                           str(tmp_path / "params.yaml"), "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {folder}: images are 6x6; width and height must be multiples of 4 (pad or "
        f"resize them)"]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_trained_generator_follows_the_requested_class(tmp_path):
    """Conditional accuracy well above chance (0.1) after a short real training run."""
    params = _params(steps=1500, batch_size=64, embedding_dim=32, generator_dims=[64, 32],
                     discriminator_dims=[32, 64], ema_decay=0.99, critic_steps=2)
    FAMILIES["image"].verb("prepare")(params, tmp_path / "prepared")
    FAMILIES["image"].verb("train")(params, tmp_path / "prepared", tmp_path / "m.ckpt", None)
    FAMILIES["image"].verb("generate")(params, tmp_path / "m.ckpt", tmp_path / "gen", rows=500)
    FAMILIES["image"].verb("evaluate")(params, tmp_path / "prepared", tmp_path / "gen", None,
                                       tmp_path / "reports")
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert metrics["image.conditional_accuracy"] > 0.3, metrics
