"""Feature spaces: the FID InceptionV3 loading path and preprocessing, the embedding run."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from metagen.errors import CheckpointError, InputError
from metagen.eval.features import inception_space, pixel_space
from metagen.nn.inception import FIDInceptionV3, resize_bilinear_tf1


def tf1_resize_reference(img: np.ndarray, size: int) -> np.ndarray:
    """TensorFlow 1 resize_bilinear (align_corners=False), written out pixel by pixel."""
    h, w = img.shape
    out = np.zeros((size, size))
    for i in range(size):
        y = i * h / size
        y0, fy = int(np.floor(y)), y - np.floor(y)
        y1 = min(y0 + 1, h - 1)
        for j in range(size):
            x = j * w / size
            x0, fx = int(np.floor(x)), x - np.floor(x)
            x1 = min(x0 + 1, w - 1)
            top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
            bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
            out[i, j] = top * (1 - fy) + bottom * fy
    return out


def test_tf1_resize_matches_its_definition():
    img = np.random.default_rng(0).random((7, 5))
    ours = resize_bilinear_tf1(torch.from_numpy(img)[None, None], 12)[0, 0].numpy()
    assert np.allclose(ours, tf1_resize_reference(img, 12))
    same = resize_bilinear_tf1(torch.from_numpy(img[:5, :5])[None, None], 5)[0, 0].numpy()
    assert np.allclose(same, img[:5, :5])  # resizing to the same size is the identity
    # it differs from PyTorch's half-pixel bilinear, which is why it exists
    torch_resize = torch.nn.functional.interpolate(torch.from_numpy(img)[None, None], size=12, mode="bilinear")
    assert not np.allclose(ours, torch_resize[0, 0].numpy())


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory):
    """A randomly initialised FID InceptionV3 saved as the published file's state dict."""
    torch.manual_seed(0)
    net = FIDInceptionV3().eval()
    for m in net.modules():  # non-trivial batch-norm statistics, as trained weights have
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("inception") / "pt_inception-random.pth"
    torch.save(net.state_dict(), path)
    return net, path


def test_inception_features_from_a_weights_file(random_inception, tmp_path):
    net, path = random_inception
    space = inception_space(path)
    images = torch.rand(2, 3, 32, 40)
    features = space(images)
    assert features.shape == (2, 2048) and features.dtype == np.float64
    with torch.no_grad():
        expected = net((resize_bilinear_tf1(images * 255, 299) - 128) / 128).double().numpy()
    assert np.allclose(features, expected, atol=1e-5)
    both, logits = space.features_and_logits(images)
    assert np.allclose(both, features) and logits.shape == (2, 1008)
    grey = torch.rand(1, 1, 28, 28)
    assert np.allclose(space(grey), space(grey.expand(-1, 3, -1, -1)))
    # the same tensors as safetensors load the same network
    st = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, st)
    assert np.allclose(inception_space(st)(images), features, atol=1e-6)
    assert len(space.checksum) == 64 and space.checksum != inception_space(st).checksum


def test_wrong_inception_files_are_refused(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="not a readable weights file"):
        inception_space(junk)
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, other)
    with pytest.raises(CheckpointError, match="not FID InceptionV3 weights"):
        inception_space(other)
    with pytest.raises(InputError, match="not found"):
        inception_space(tmp_path / "missing.pth")


def test_pixel_space():
    x = torch.rand(3, 1, 4, 4)
    assert np.array_equal(pixel_space()(x), x.flatten(1).double().numpy())
    with pytest.raises(InputError, match="expected images"):
        pixel_space()(x[0])


def test_non_state_dict_inception_file_and_foreign_feature_space(tmp_path):
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], listed)
    with pytest.raises(CheckpointError, match="state dict"):
        inception_space(listed)
    from metagen.eval.features import FeatureSpace

    space = FeatureSpace("x", "none", None, None, lambda x: x, dataset="glyphs", train_classes=frozenset({"A"}))
    with pytest.raises(InputError, match="trained on 'glyphs', not on 'omniglot'"):
        space.check_unseen(["B"], "omniglot")
    with pytest.raises(InputError, match="trained on 1 of the evaluated classes"):
        space.check_unseen(["A", "B"], "glyphs")
