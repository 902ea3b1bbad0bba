"""dlcore.models.alexnet: parameter counts against the paper and torchvision, torchvision's
state_dict layout, forward shapes, LRN's mapping to the paper, local contrast normalisation,
the model summary, and what fit gained for GPUs (mixed precision, channels-last, the recipe)."""

import numpy as np
import pytest
import torch

from dlcore import train
from dlcore.data import ArrayBatches
from dlcore.models import alexnet, local_contrast_norm, local_response_norm, paper_lrn
from dlcore.models import summary, summary_table

# torchvision 0.28's alexnet(): every state_dict key and shape, in order
TORCHVISION_LAYOUT = [
    ("features.0.weight", (64, 3, 11, 11)), ("features.0.bias", (64,)),
    ("features.3.weight", (192, 64, 5, 5)), ("features.3.bias", (192,)),
    ("features.6.weight", (384, 192, 3, 3)), ("features.6.bias", (384,)),
    ("features.8.weight", (256, 384, 3, 3)), ("features.8.bias", (256,)),
    ("features.10.weight", (256, 256, 3, 3)), ("features.10.bias", (256,)),
    ("classifier.1.weight", (4096, 9216)), ("classifier.1.bias", (4096,)),
    ("classifier.4.weight", (4096, 4096)), ("classifier.4.bias", (4096,)),
    ("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,)),
]


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("variant, classes, expected", [
    ("torchvision", 1000, 61_100_840),  # torchvision's figure
    ("paper", 1000, 60_965_224),  # the paper's layers, counted layer by layer below
    ("cifar", 10, 7_506_762),
])
def test_parameter_counts(variant, classes, expected):
    assert count(alexnet(classes, variant)) == expected


def test_paper_counts_layer_by_layer():
    convs = [(96, 3, 11, 1), (256, 96, 5, 2), (384, 256, 3, 1), (384, 384, 3, 2),
             (256, 384, 3, 2)]  # out, in, kernel, groups (the two GPUs)
    expected = [o * (i // g) * k * k + o for o, i, k, g in convs]
    expected += [9216 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000]
    model = alexnet(variant="paper")
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert [count(m) for m in layers] == expected
    assert [m.groups for m in layers[:5]] == [1, 2, 1, 2, 2]
    assert sum(isinstance(m, torch.nn.LocalResponseNorm) for m in model.modules()) == 2
    assert all(m.kernel_size == 3 and m.stride == 2 for m in model.modules()
               if isinstance(m, torch.nn.MaxPool2d))


def test_default_layout_is_torchvisions():
    model = alexnet()
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == TORCHVISION_LAYOUT


def test_torchvision_weights_load_strictly_and_give_the_same_outputs():
    # torchvision's alexnet, written out as its source defines it (torchvision itself does not
    # import beside this CPU torch): weights saved from it load into ours with strict=True
    class TorchvisionAlexNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            nn = torch.nn
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
                nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 1000))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    torch.manual_seed(0)
    theirs = TorchvisionAlexNet().eval()
    ours = alexnet().eval()
    result = ours.load_state_dict(theirs.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


@pytest.mark.parametrize("variant, side, classes", [("torchvision", 224, 1000),
                                                    ("paper", 227, 1000), ("cifar", 32, 10)])
def test_forward_shapes(variant, side, classes):
    model = alexnet(classes, variant).eval()
    with torch.no_grad():
        assert model(torch.zeros(3, 3, side, side)).shape == (3, classes)
        assert model.features(torch.zeros(1, 3, side, side)).shape[1:] == \
            ((256, 6, 6) if variant != "cifar" else (256, 4, 4))
    assert model.input_size == (3, side, side)


def test_switches_keep_the_map_sizes():
    for overlap in (True, False):
        with torch.no_grad():
            paper = alexnet(variant="paper", overlap=overlap).features(torch.zeros(1, 3, 227, 227))
            cifar = alexnet(10, "cifar", overlap=overlap).features(torch.zeros(1, 3, 32, 32))
        assert paper.shape[1:] == (256, 6, 6) and cifar.shape[1:] == (256, 4, 4)
    tanh = alexnet(10, "cifar", activation="tanh", dropout=0.0, lrn=True)
    kinds = {type(m).__name__ for m in tanh.modules()}
    assert "Tanh" in kinds and "ReLU" not in kinds and "LocalResponseNorm" in kinds
    assert all(m.p == 0.0 for m in tanh.modules() if isinstance(m, torch.nn.Dropout))
    assert count(tanh) == count(alexnet(10, "cifar"))  # switches change no parameter count


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ValueError, match="unknown variant 'vgg'"):
        alexnet(variant="vgg")
    with pytest.raises(ValueError, match="activation must be 'relu' or 'tanh'"):
        alexnet(activation="sigmoid")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        alexnet(dropout=1.0)
    with pytest.raises(ValueError, match=r"expects images \(N, 3, H, W\)"):
        alexnet(10, "cifar")(torch.zeros(2, 1, 32, 32))


def test_paper_lrn_is_the_papers_formula():
    torch.manual_seed(0)
    x = 3 * torch.randn(2, 11, 5, 4, dtype=torch.float64)
    expected = local_response_norm(x, k=2.0, n=5, alpha=1e-4, beta=0.75)
    torch.testing.assert_close(paper_lrn().double()(x), expected, rtol=1e-12, atol=1e-12)
    # written out for one channel away from the edges, and for the first (a shorter window)
    a = x[0, :, 2, 1]
    for i, window in [(5, a[3:8]), (0, a[0:3])]:
        b = a[i] / (2.0 + 1e-4 * (window ** 2).sum()) ** 0.75
        assert expected[0, i, 2, 1].item() == pytest.approx(b.item(), rel=1e-12)
    # and torch's alpha is the paper's alpha times n: the naive mapping is wrong
    naive = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0).double()(x)
    assert not torch.allclose(naive, expected, rtol=1e-6, atol=0)


def test_local_contrast_norm():
    torch.manual_seed(1)
    x = torch.rand(2, 3, 20, 20, dtype=torch.float64)
    y = local_contrast_norm(x)
    # a change of brightness and contrast of the whole image changes nothing
    torch.testing.assert_close(local_contrast_norm(4.0 * x + 7.0), y, rtol=1e-9, atol=1e-9)
    # a constant image has no contrast: zero everywhere, borders included
    flat = local_contrast_norm(torch.full((1, 3, 9, 9), 0.3, dtype=torch.float64))
    assert flat.abs().max() < 1e-9  # rounding (1e-16) over the floor eps (1e-4)
    # away from the borders the local (Gaussian-weighted, all channels) mean is removed
    r = torch.arange(7, dtype=torch.float64) - 3
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * (7 / 4) ** 2))
    g = g / (g.sum() * 3)
    centre = x[0, :, 7:14, 7:14]
    mean = (centre * g).sum()
    centred = x[0, :, 10, 10] - mean
    assert torch.sign(y[0, :, 10, 10]).tolist() == torch.sign(centred).tolist()
    with pytest.raises(ValueError, match="size must be odd"):
        local_contrast_norm(x, size=6)
    with pytest.raises(ValueError, match=r"expects \(N, C, H, W\)"):
        local_contrast_norm(x[0])


def test_summary_counts_with_torchs_flop_counter():
    rows = summary(alexnet(variant="paper"), (3, 227, 227))
    convs = [r for r in rows if r["kind"] == "Conv2d"]
    assert [r["output"] for r in convs] == [(96, 55, 55), (256, 27, 27), (384, 13, 13),
                                            (384, 13, 13), (256, 13, 13)]
    # multiply-adds of a convolution: outputs x (inputs per group x kernel area)
    assert convs[0]["mult_adds"] == 96 * 55 * 55 * 3 * 11 * 11
    assert convs[1]["mult_adds"] == 256 * 27 * 27 * 48 * 5 * 5
    assert sum(r["parameters"] for r in rows) == 60_965_224
    assert sum(r["neurons"] for r in rows) == 659_272  # "650,000 neurons"
    fc = [r for r in rows if r["kind"] == "Linear"]
    assert [r["mult_adds"] for r in fc] == [9216 * 4096, 4096 * 4096, 4096 * 1000]
    table = summary_table(rows)
    assert "60,965,224" in table and "LocalResponseNorm" in table and "ReLU" not in table
    total = sum(r["mult_adds"] for r in summary(alexnet(), (3, 224, 224)))
    assert total == pytest.approx(714e6, rel=0.01)  # torchvision lists 0.71 GFLOPS
    with pytest.raises(ValueError, match="without the batch"):
        summary(alexnet(), (1, 3, 224, 224, 0))


# --------------------------------------------------------------------------- fit on GPUs


def tiny_data(n=64):
    r = np.random.default_rng(0)
    y = r.integers(0, 2, n)
    x = r.random((n, 3, 32, 32), dtype=np.float32)
    x[:, 0] += 0.5 * y[:, None, None]  # class 1: a brighter first channel
    return ArrayBatches(x, y, batch_size=16, shuffle=True, seed=0)


def small_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(8, 2))


def test_fit_auto_uses_neither_on_a_cpu():
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = train.fit(model, opt, tiny_data(), loss=train.supervised(torch.nn.CrossEntropyLoss()),
                  epochs=1, progress=False)
    assert h.mixed_precision is None and h.channels_last is False
    assert model[0].weight.is_contiguous()


def test_fit_with_mixed_precision_and_channels_last_forced():
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    h = train.fit(model, opt, tiny_data(), loss=train.supervised(torch.nn.CrossEntropyLoss()),
                  epochs=6, progress=False, mixed_precision=True, channels_last=True)
    assert h.mixed_precision == "bfloat16" and h.channels_last
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert model[0].weight.dtype == torch.float32  # the weights stay float32
    assert h["train loss"][-1] < h["train loss"][0]
    with pytest.raises(ValueError, match="True, False or 'auto'"):
        train.fit(model, opt, tiny_data(), loss=train.supervised(torch.nn.CrossEntropyLoss()),
                  epochs=1, progress=False, mixed_precision="yes")


def test_imagenet_recipe():
    model = small_cnn()
    opt, scheduler = train.imagenet_recipe(model)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.01, 0.9, 5e-4)
    for _ in range(4):
        scheduler.step(1.0)  # no improvement: divide by 10 after the patience
    assert opt.param_groups[0]["lr"] == pytest.approx(0.001)


def test_top_1_and_top_5_error_on_hand_made_logits():
    logits = torch.tensor([[0.1, 0.5, 0.2, 0.9, 0.0, 0.3, 0.4],  # label 3: top-1 right
                           [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.1],  # label 5: 6th, top-5 wrong
                           [0.2, 0.1, 0.9, 0.3, 0.8, 0.4, 0.7]])  # label 6: 3rd, top-5 right
    labels = torch.tensor([3, 5, 6])
    assert 1 - train.accuracy(logits, (None, labels)) == pytest.approx(2 / 3)
    assert 1 - train.top_k(5)(logits, (None, labels)) == pytest.approx(1 / 3)
    assert 1 - train.top_k(1)(logits, (None, labels)) == pytest.approx(2 / 3)


def test_steps_to_error_counts_the_steps_to_a_running_training_error():
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    steps, curve = train.steps_to_error(model, opt, tiny_data(), target=0.1, max_steps=200,
                                        window=4)
    assert steps is not None and len(curve) == steps and curve[-1] <= 0.1
    assert all(c > 0.1 for c in curve[3:-1])  # not reached before (once 4 batches are seen)
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    steps, curve = train.steps_to_error(model, opt, tiny_data(), target=0.01, max_steps=3)
    assert steps is None and len(curve) == 3
    with pytest.raises(ValueError, match="target must be an error rate"):
        train.steps_to_error(model, opt, tiny_data(), target=25, max_steps=3)


def test_initialisations():
    torch.manual_seed(0)
    he = alexnet(10, "cifar", width=0.5, init="he")
    conv2 = he.features[3]
    fan_in = conv2.weight[0].numel()
    assert conv2.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.05)
    assert conv2.bias.abs().max() == 0
    tanh = alexnet(10, "cifar", width=0.5, init="he", activation="tanh")
    assert tanh.features[3].weight.std().item() == pytest.approx(5 / 3 / fan_in ** 0.5, rel=0.05)
    paper = alexnet(variant="paper", init="paper")
    convs = [m for m in paper.features if isinstance(m, torch.nn.Conv2d)]
    assert [float(c.bias.detach().mean()) for c in convs] == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert all(c.weight.std().item() == pytest.approx(0.01, rel=0.05) for c in convs)
    linears = [m for m in paper.classifier if isinstance(m, torch.nn.Linear)]
    assert [float(m.bias.detach().mean()) for m in linears] == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="init must be"):
        alexnet(init="xavier")
