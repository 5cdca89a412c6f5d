import logging

import numpy as np
import pytest
import torch

from facesym_pipeline.lib.audit.counterfactual import Sample, detect_landmarks
from facesym_pipeline.lib.face.landmarker import create_landmarker
from facesym_pipeline.lib.image_models.crops import REGIONS
from facesym_pipeline.lib.image_models.datasets import CropArrays, augment, crop_arrays, to_tensor
from facesym_pipeline.lib.image_models.networks import FullFaceCNN, RegionCNN
from facesym_pipeline.lib.image_models.train import (
    TrainConfig,
    cnn_predictor,
    cross_validate,
    epoch_line,
    fit,
    load_network,
    save_network,
    validation_split,
)
from facesym_pipeline.lib.media.decode import load_image_rgb

SMALL = {"widths": [4, 8, 8]}


def _random_arrays(n: int, seed: int = 0) -> CropArrays:
    rng = np.random.default_rng(seed)
    crops = {}
    for name in ("full_face", "eye_left", "nose", "mouth"):
        r = REGIONS[name]
        crops[name] = rng.integers(0, 256, (n, r.height_px, r.width_px, 3), dtype=np.uint8)
        crops[name + "_mirrored"] = rng.integers(0, 256, crops[name].shape, dtype=np.uint8)
    return CropArrays(crops, np.ones(n, dtype=bool))


def _batch(arrays, names):
    return {k: to_tensor(arrays.crops[k]) for k in names}


def test_forward_shapes():
    arrays = _random_arrays(3)
    for net in (FullFaceCNN(), RegionCNN(), RegionCNN(**SMALL, siamese=False, diff_sigma=0)):
        out = net.eval()(_batch(arrays, net.input_crops))
        assert out.shape == (3,)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("siamese", [True, False])
def test_region_cnn_sees_only_asymmetry(siamese):
    net = RegionCNN(**SMALL, siamese=siamese).eval()
    arrays = _random_arrays(4)
    batch = _batch(arrays, net.input_crops)
    swapped = {k: batch[k.removesuffix("_mirrored") if k.endswith("_mirrored") else k + "_mirrored"]
               for k in batch}  # fmt: skip
    with torch.no_grad():
        assert torch.allclose(net(batch), net(swapped), atol=1e-5)
        # identical halves (a perfectly symmetric face): the same answer whatever the
        # content, brightness or contrast
        symmetric = {k: batch[k.removesuffix("_mirrored")] for k in batch}
        darker = {k: v * 0.5 - 1.0 for k, v in symmetric.items()}
        out = net(symmetric)
        assert torch.allclose(out, out[0].expand(4), atol=1e-5)
        assert torch.allclose(net(darker), out, atol=1e-5)


def test_augment_mirrors_pairs_consistently():
    arrays = _random_arrays(2)
    batch = _batch(arrays, ("full_face", "mouth", "mouth_mirrored"))
    for seed in range(8):
        out = augment(batch, torch.Generator().manual_seed(seed), max_shift=0)
        if not torch.equal(out["full_face"], batch["full_face"]):
            assert torch.equal(out["full_face"], torch.flip(batch["full_face"], dims=(-1,)))
            assert torch.equal(out["mouth"], batch["mouth_mirrored"])
            assert torch.equal(out["mouth_mirrored"], batch["mouth"])
            return
    pytest.fail("no flip drawn in 8 seeds")


def test_validation_split_holds_back_whole_groups():
    groups = np.repeat(["a", "b", "c", "d"], 5)
    val = validation_split(groups, 0.25, seed=1)
    assert val.sum() == 5
    assert len(set(groups[val])) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["full_face_cnn", "region_cnn"])
def test_training_is_deterministic_and_round_trips(kind, tmp_path):
    arrays = _random_arrays(16)
    y = np.tile([0, 1], 8)
    groups = np.repeat(list("abcd"), 4)
    config = TrainConfig(epochs=2, batch_size=8, seed=3, network=SMALL, num_threads=1)
    logs = []
    a = fit(kind, arrays, y, groups, config, on_epoch=logs.append)
    b = fit(kind, arrays, y, groups, config)
    c = fit(kind, arrays, y, groups, TrainConfig(epochs=2, batch_size=8, seed=4, network=SMALL))
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())
    assert [e.epoch for e in logs] == [1, 2] and all(np.isfinite(e.train_loss) for e in logs)

    path = tmp_path / "model.pt"
    save_network(a.model, kind, path)
    loaded = load_network(path)
    batch = _batch(arrays, a.model.input_crops)
    with torch.no_grad():
        assert torch.equal(loaded(batch), a.model(batch))
    assert torch.equal(load_network(save_network(a.model, kind))(batch), loaded(batch))


def test_epochs_are_logged_at_debug_level_only(caplog):
    arrays = _random_arrays(8)
    config = TrainConfig(epochs=2, batch_size=4, seed=1, network=SMALL, num_threads=1)
    logger = "facesym_pipeline.lib.image_models.train"
    with caplog.at_level(logging.DEBUG, logger=logger):
        result = fit("full_face_cnn", arrays, np.tile([0, 1], 4), np.repeat(list("ab"), 4), config)
    lines = [r for r in caplog.records if r.name == logger]
    assert [r.levelno for r in lines] == [logging.DEBUG] * len(result.history) == [10, 10]
    assert lines[0].getMessage() == epoch_line("full_face_cnn", result.history[0])
    assert lines[0].getMessage().startswith("full_face_cnn fold -1 epoch 1: train loss ")


def test_cross_validate_predicts_every_row_out_of_fold():
    arrays = _random_arrays(12)
    y = np.tile([0, 1], 6)
    groups = np.repeat(list("abcdef"), 2)
    folds = np.repeat([0, 1, 2], 4)
    cv = cross_validate("full_face_cnn", arrays, y, groups, folds,
                        TrainConfig(epochs=1, batch_size=4, network=SMALL))  # fmt: skip
    assert sorted(cv.models) == [0, 1, 2]
    assert np.isfinite(cv.proba).all() and ((cv.proba >= 0) & (cv.proba <= 1)).all()


def test_predictor_on_a_real_face(samples, model_path):
    rgb = load_image_rgb(samples["biden.jpg"], max_side=640)
    with create_landmarker(model_path) as lm:
        landmarks = detect_landmarks(lm, rgb)
    arrays = crop_arrays([(rgb, landmarks), (rgb, None)])
    assert arrays.ok.tolist() == [True, False] and len(arrays) == 1
    items = [
        Sample(rgb, 0, "s", {"sample_id": "a"}, landmarks),
        Sample(rgb, 0, "s", {"sample_id": "b"}),
    ]
    for net in (FullFaceCNN(**SMALL), RegionCNN(**SMALL)):
        p = cnn_predictor(net.eval())(items)
        assert 0.0 <= p[0] <= 1.0 and np.isnan(p[1])


def test_batches_reach_the_networks_as_contiguous_nchw():
    # The channels-last strided view of the crops crashed convolution backward.
    from facesym_pipeline.lib.image_models.datasets import to_tensor

    t = to_tensor(np.zeros((4, 42, 64, 3), dtype=np.uint8))
    assert t.shape == (4, 3, 42, 64) and t.is_contiguous()
