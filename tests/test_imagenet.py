"""ImageNet baselines: real weights classify real photos; weights are checked before they are trusted."""

import numpy as np
import pytest
import torch
from skimage import data

from encoders import build_imagenet_weights as build
from encoders.imagenet import (
    EFFICIENTNET_LAYERS,
    SQUEEZENET_LAYERS,
    SQUEEZENET_WEIGHTS,
    ImageNetStatistic,
    SqueezeNet11,
    classify,
    load_network,
)

CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module", params=["squeezenet", "efficientnet"])
def network(request):
    torch.set_num_threads(2)
    return request.param, load_network(request.param)


def photo(name):
    return getattr(data, name)()[None].astype(np.float32) / 255.0


def test_classifies_scikit_image_photos(network):
    name, model = network
    cat = classify(photo("chelsea"), name, model)[0]
    coffee = classify(photo("coffee"), name, model)[0]
    assert int(np.argmax(cat)) in CATS
    assert sum(cat[c] for c in CATS) > 0.8
    assert int(np.argmax(coffee)) == ESPRESSO
    np.testing.assert_allclose(cat.sum(), 1.0, atol=1e-6)


def test_statistic_layers_have_the_architectures_sizes(network):
    name, model = network
    images = np.random.default_rng(0).random((3, 64, 64)).astype(np.float32)
    sizes = {"squeezenet": {"conv1": 64 * 113 * 113, "fire5": 256 * 28 * 28, "fire9": 512 * 14 * 14,
                            "conv10": 1000},
             "efficientnet": {"stem": 32 * 112 * 112, "block10": 112 * 14 * 14, "block15": 320 * 7 * 7,
                              "head": 1280}}[name]
    for layer, size in sizes.items():
        features = ImageNetStatistic(name, layer, 64, model)(images)
        assert features.shape == (3, size)
        assert np.all(np.isfinite(features))


def test_statistic_is_deterministic_and_batch_independent():
    statistic = ImageNetStatistic("squeezenet", "fire5", 64)
    images = np.random.default_rng(1).random((20, 64, 64)).astype(np.float32)
    together = statistic(images)
    np.testing.assert_allclose(statistic(images[7:8])[0], together[7], rtol=1e-4, atol=1e-4)


def test_bad_names_and_images_are_refused():
    with pytest.raises(ValueError, match="network: expected one of"):
        ImageNetStatistic("alexnet", "fc7")
    with pytest.raises(ValueError, match="layer: squeezenet has layers conv1"):
        ImageNetStatistic("squeezenet", "fc7")
    statistic = ImageNetStatistic("squeezenet", "conv10", 64)
    with pytest.raises(ValueError, match=r"images: expected shape \(N, 64, 64\)"):
        statistic(np.zeros((2, 32, 32), np.float32))
    with pytest.raises(ValueError, match="finite intensities"):
        statistic(np.full((1, 64, 64), np.nan, np.float32))
    assert len(SQUEEZENET_LAYERS) == 10 and len(EFFICIENTNET_LAYERS) == 18


def test_weights_from_another_source_are_refused(tmp_path):
    with np.load(SQUEEZENET_WEIGHTS, allow_pickle=False) as d:
        arrays = {k: d[k] for k in d.files}
    arrays["source_sha256"] = np.array("0" * 64)
    bad = tmp_path / "other.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="not converted from the pinned ndf 0.1.4 pickle"):
        SqueezeNet11.pretrained(bad)
    with pytest.raises(FileNotFoundError, match="weights: no such file"):
        SqueezeNet11.pretrained(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        SqueezeNet11.pretrained(tmp_path / "junk.npz")


def test_conversion_refuses_an_unpinned_pickle(tmp_path):
    source = tmp_path / "squeezenet_weights.pkl"
    source.write_bytes(b"\x80\x04N.")  # a valid pickle of None: must never be unpickled
    out = tmp_path / "out.npz"
    with pytest.raises(ValueError, match="expected f286bbf4"):
        build.convert(source, out)
    assert not out.exists()


def test_shipped_weights_record_their_source_and_parameter_count():
    with np.load(SQUEEZENET_WEIGHTS, allow_pickle=False) as d:
        assert str(d["source_sha256"]) == build.SOURCE_SHA256
        assert sum(d[k].size for k in d.files if k != "source_sha256") == build.N_PARAMETERS
