"""dlcore.models.vgg and dlcore.models.resnet: parameter counts against torchvision and the
papers, torchvision's state_dict layout, multiply-adds against ResNet's Table 1, shapes."""

import pytest
import torch
from torch import nn

from dlcore.convolution import receptive_field
from dlcore.models import cifar_resnet, summary, vgg
from dlcore.models import resnet18, resnet34, resnet50, resnet101, resnet152
from dlcore.models import vgg11, vgg11_bn, vgg13, vgg16, vgg16_bn, vgg19


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("build, expected", [
    (vgg11, 132_863_336), (vgg13, 133_047_848), (vgg16, 138_357_544), (vgg19, 143_667_240),
    (vgg11_bn, 132_868_840), (vgg16_bn, 138_365_992)])
def test_vgg_counts_are_torchvisions(build, expected):
    assert count(build()) == expected


@pytest.mark.parametrize("config, millions", [("A", 133), ("A-LRN", 133), ("B", 133),
                                              ("C", 134), ("D", 138), ("E", 144)])
def test_vgg_configurations_match_the_papers_table_2(config, millions):
    assert round(count(vgg(config)) / 1e6) == millions


def test_vgg_layouts():
    model = vgg16()
    keys = list(model.state_dict())
    convs = [k for k in keys if k.startswith("features") and k.endswith("weight")]
    assert convs[0] == "features.0.weight" and convs[-1] == "features.28.weight"
    assert len(convs) == 13 and keys[-2:] == ["classifier.6.weight", "classifier.6.bias"]
    assert [k for k in keys if k.startswith("classifier")][::2] == [
        "classifier.0.weight", "classifier.3.weight", "classifier.6.weight"]
    c = vgg("C")
    kernels = [m.kernel_size for m in c.features if isinstance(m, torch.nn.Conv2d)]
    assert kernels.count((1, 1)) == 3 and len(kernels) == 13
    assert any(isinstance(m, torch.nn.LocalResponseNorm) for m in vgg("A-LRN").features)
    with pytest.raises(ValueError, match="unknown configuration 'F'"):
        vgg("F")


@pytest.mark.parametrize("build, expected", [
    (resnet18, 11_689_512), (resnet34, 21_797_672), (resnet50, 25_557_032),
    (resnet101, 44_549_160), (resnet152, 60_192_808)])
def test_resnet_counts_are_torchvisions(build, expected):
    assert count(build()) == expected
    assert count(build(stride_in_1x1=True)) == expected  # the stride moves, no weight does


def test_resnet_layout():
    keys = list(resnet50().state_dict())
    for key in ["conv1.weight", "bn1.running_mean", "layer1.0.conv3.weight",
                "layer1.0.downsample.0.weight", "layer1.0.downsample.1.weight",
                "layer4.2.bn3.bias", "fc.weight", "fc.bias"]:
        assert key in keys
    assert "layer1.0.downsample.0.weight" not in resnet18().state_dict()
    assert "layer2.0.downsample.0.weight" in resnet18().state_dict()


@pytest.mark.parametrize("build, paper", [(resnet18, 1.8), (resnet34, 3.6), (resnet50, 3.8),
                                          (resnet101, 7.6), (resnet152, 11.3)])
def test_resnet_multiply_adds_match_the_papers_table_1(build, paper):
    # the paper counts with the bottleneck's stride in its first 1x1 convolution, and rounds
    macs = sum(r["mult_adds"] for r in summary(build(stride_in_1x1=True), (3, 224, 224)))
    assert macs / 1e9 == pytest.approx(paper, rel=0.03)


def test_forward_shapes():
    with torch.no_grad():
        assert resnet18().eval()(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)
        assert vgg11(num_classes=7).eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 7)
        for plain in (False, True):
            net = cifar_resnet(20, plain=plain).eval()
            assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_cifar_resnets():
    r20, plain20 = cifar_resnet(20), cifar_resnet(20, plain=True)
    assert round(count(r20) / 1e6, 2) == 0.27  # the paper's table 6
    assert count(r20) == count(plain20)  # option-A shortcuts have no weights
    assert round(count(cifar_resnet(56)) / 1e6, 2) == 0.85
    convs = [m for m in r20.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) + 1 == 20  # 19 convolutions and the linear layer
    x = torch.randn(2, 3, 32, 32)
    block = r20.blocks[3]  # the first block of stage 2: stride 2, 16 -> 32 channels
    shortcut = block.shortcut(torch.randn(2, 16, 32, 32))
    assert shortcut.shape == (2, 32, 16, 16) and shortcut[:, 16:].abs().max() == 0
    assert r20.eval()(x).shape == (2, 10)
    with pytest.raises(ValueError, match="6n \\+ 2"):
        cifar_resnet(21)


def test_stacked_3x3_receptive_fields():
    from dlcore.models import stack_receptive_field
    assert receptive_field([3, 3], strides=[1, 1]) == 5
    assert receptive_field([3, 3, 3], strides=[1, 1, 1]) == 7
    conv = lambda: torch.nn.Conv2d(4, 4, 3, padding=1)  # noqa: E731
    assert stack_receptive_field(torch.nn.Sequential(conv(), torch.nn.ReLU(), conv())) == 5
    assert stack_receptive_field(torch.nn.Sequential(conv(), conv(), conv())) == 7
    assert stack_receptive_field(vgg16().features) == 212  # pool5 of VGG-16
    assert stack_receptive_field(vgg16().features[:-1]) == 196  # conv5_3
    dilated = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, dilation=2))
    assert stack_receptive_field(dilated) == 5


def test_googlenet_counts_and_layout():
    from dlcore.models import googlenet
    assert count(googlenet()) == 6_624_904  # torchvision, without the auxiliary heads
    assert count(googlenet(aux_logits=True)) == 13_004_888  # torchvision's count with them
    keys = googlenet().state_dict()
    assert "inception3a.branch1.conv.weight" in keys and "inception3a.branch1.bn.weight" in keys
    assert keys["inception3a.branch3.1.conv.weight"].shape == (32, 16, 3, 3)  # torchvision's 3x3
    paper = googlenet(variant="paper")
    assert paper.state_dict()["inception3a.branch3.1.conv.weight"].shape == (32, 16, 5, 5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in paper.modules())
    assert sum(isinstance(m, torch.nn.LocalResponseNorm) for m in paper.modules()) == 2
    # the paper's network, counted: every convolution with its bias, 5x5 branches
    assert count(paper) == 6_998_552
    with pytest.raises(ValueError, match="variant must be"):
        googlenet(variant="v3")


def test_googlenet_auxiliary_heads_only_in_training():
    from dlcore.models import googlenet
    net = googlenet(num_classes=5, aux_logits=True)
    x = torch.zeros(2, 3, 224, 224)
    out = net.train()(x)
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 5)] * 3
    with torch.no_grad():
        assert net.eval()(x).shape == (2, 5)
        assert googlenet(variant="paper").eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_naive_inception_module_costs_more():
    from dlcore.models.googlenet import INCEPTION_TABLE, Inception
    naive = Inception(*INCEPTION_TABLE["3a"], paper=True, reduce=False)
    reduced = Inception(*INCEPTION_TABLE["3a"], paper=True)
    with torch.no_grad():
        x = torch.zeros(1, 192, 28, 28)
        assert naive(x).shape == (1, 64 + 128 + 32 + 192, 28, 28)  # pooling keeps 192 maps
        assert reduced(x).shape == (1, 64 + 128 + 32 + 32, 28, 28)
    assert count(naive) > 2 * count(reduced)


def test_summary_of_a_single_layer_is_one_row():
    rows = summary(nn.Conv2d(64, 64, 3, padding=1, bias=False), (64, 56, 56))
    assert len(rows) == 1
    assert rows[0]["name"] == "" and rows[0]["kind"] == "Conv2d"
    assert rows[0]["parameters"] == 64 * 64 * 9
    assert rows[0]["mult_adds"] == 56 * 56 * 64 * 64 * 9
    assert rows[0]["output"] == (64, 56, 56) and rows[0]["neurons"] == 64 * 56 * 56
