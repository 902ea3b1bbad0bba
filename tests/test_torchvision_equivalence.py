"""dlcore.models' VGG, GoogLeNet and ResNet compute what torchvision's compute, so torchvision's
published weights load into them with ``strict=True`` and give the same outputs.

torchvision does not import beside this CPU torch, so, as tests/test_alexnet.py does for AlexNet,
its architectures are written out below as its source defines them: an independent twin written
from torchvision's ``torchvision/models/vgg.py`` (``cfgs``, ``make_layers``, ``VGG``),
``googlenet.py`` (``BasicConv2d``, ``Inception``, ``InceptionAux``, ``GoogLeNet``) and
``resnet.py`` (``conv3x3``, ``conv1x1``, ``BasicBlock``, ``Bottleneck``, ``ResNet``). Read from
pytorch/vision: ``vgg.py`` and ``resnet.py`` as of 0.8-0.10 and ``googlenet.py`` as of 0.10 and
as on main since the multi-weight API of 0.13 (which only turned GoogLeNet's dropouts into the
arguments ``dropout=0.2`` and ``dropout_aux=0.7``). No layer a state_dict or a forward pass sees
has changed since: the 0.2x releases still publish the same files (``vgg16-397923af.pth``,
``googlenet-1378be20.pth``, ...) for these networks' V1 weights. Only what a state_dict or a
forward pass can see is kept: the weight initialisation (which every test overwrites), the
TorchScript branches, ResNeXt's groups and widths, dilation and norm_layer are left out.

For each network the test checks (1) the twin's state_dict keys and shapes equal dlcore's, in
order; (2) each side's state_dict loads into the other with ``strict=True``; (3) with every
parameter and every batch-norm statistic drawn at random (seeded), in float64, both give the
same outputs in evaluation mode and in training mode (dropout made the same by seeding torch's
generator before each forward, which also checks the dropout rates) and leave the same running
statistics behind (which checks batch normalisation's momentum). Layouts are compared on the
meta device, so the largest networks cost nothing; forwards use small images, which the
adaptive average poolings allow.
"""

from collections import namedtuple

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dlcore import models

# ------------------------------------------------------------ torchvision's vgg.py, written out

CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False):
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class TvVGG(nn.Module):
    def __init__(self, features, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def tv_vgg(cfg, batch_norm):
    return lambda: TvVGG(make_layers(CFGS[cfg], batch_norm))


# ------------------------------------------------------ torchvision's googlenet.py, written out

class TvBasicConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class TvInception(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        conv_block = TvBasicConv2d
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(conv_block(in_channels, ch3x3red, kernel_size=1),
                                     conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(conv_block(in_channels, ch5x5red, kernel_size=1),
                                     # kernel_size=3, not 5: torchvision's known bug (#906)
                                     conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class TvInceptionAux(nn.Module):
    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = TvBasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(torch.flatten(x, 1)), inplace=True)
        return self.fc2(self.dropout(x))


GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class TvGoogLeNet(nn.Module):
    # the class's defaults: googlenet() without weights passes its kwargs on unchanged, so
    # aux_logits is True and transform_input False; with weights it sets transform_input=True
    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False, dropout=0.2,
                 dropout_aux=0.7):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.conv1 = TvBasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = TvBasicConv2d(64, 64, kernel_size=1)
        self.conv3 = TvBasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = TvInception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = TvInception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = TvInception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = TvInception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = TvInception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = TvInception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = TvInception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = TvInception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = TvInception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = TvInceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = TvInceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

    def _transform_input(self, x):
        if self.transform_input:
            x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
            x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
            x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
            x = torch.cat((x_ch0, x_ch1, x_ch2), 1)
        return x

    def _forward(self, x):
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x)), aux2, aux1

    def forward(self, x):
        # torchvision's names cross twice: the tuple is (logits, aux1's, aux2's) by position,
        # whatever its fields say
        x, aux1, aux2 = self._forward(self._transform_input(x))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


# --------------------------------------------------------- torchvision's resnet.py, written out

def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class TvBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class TvBottleneck(nn.Module):
    expansion = 4  # the stride sits in the 3x3 convolution ("ResNet v1.5")

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes  # int(planes * (base_width / 64.0)) * groups, with 64 and 1
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class TvResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def tv_resnet(block, layers):
    return lambda: TvResNet(block, layers)


# ----------------------------------------------------------------- the networks and their twins

TWINS = {  # dlcore's builder and torchvision's, with torchvision's default arguments
    "vgg11": (models.vgg11, tv_vgg("A", False)),
    "vgg11_bn": (models.vgg11_bn, tv_vgg("A", True)),
    "vgg13": (models.vgg13, tv_vgg("B", False)),
    "vgg13_bn": (models.vgg13_bn, tv_vgg("B", True)),
    "vgg16": (models.vgg16, tv_vgg("D", False)),
    "vgg16_bn": (models.vgg16_bn, tv_vgg("D", True)),
    "vgg19": (models.vgg19, tv_vgg("E", False)),
    "vgg19_bn": (models.vgg19_bn, tv_vgg("E", True)),
    # dlcore's googlenet() has no auxiliary heads; torchvision's, without weights, has them
    "googlenet": (models.googlenet, lambda: TvGoogLeNet(aux_logits=False)),
    "googlenet_aux": (lambda: models.googlenet(aux_logits=True), TvGoogLeNet),
    "resnet18": (models.resnet18, tv_resnet(TvBasicBlock, [2, 2, 2, 2])),
    "resnet34": (models.resnet34, tv_resnet(TvBasicBlock, [3, 4, 6, 3])),
    "resnet50": (models.resnet50, tv_resnet(TvBottleneck, [3, 4, 6, 3])),
    "resnet101": (models.resnet101, tv_resnet(TvBottleneck, [3, 4, 23, 3])),
    "resnet152": (models.resnet152, tv_resnet(TvBottleneck, [3, 8, 36, 3])),
}

# small images, odd sides so that ceil_mode and paddings are exercised; GoogLeNet's 83 x 81 leaves
# inception 4a a 5 x 5 map, so the auxiliary heads' adaptive pooling to 4 x 4 does real work
INPUTS = {"vgg": (2, 3, 45, 38), "googlenet": (2, 3, 83, 81), "resnet": (2, 3, 35, 33)}


def image(name, seed):
    family = next(f for f in INPUTS if name.startswith(f))
    return torch.randn(INPUTS[family], generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def on_meta(build, dtype=torch.float32):
    with torch.device("meta"):
        return build().to(dtype)


def layout(model):
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def randomise(model, seed):
    """Draws every parameter and batch-norm statistic at random (He-scaled weights, so the
    activations keep their size), in place; returns the model."""
    g = torch.Generator().manual_seed(seed)
    done = set()

    def draw(t, kind):  # drawn in float32 (several times faster), stored in t's dtype
        done.add(id(t))
        if kind == "weight":  # fan-in scaling
            t.copy_(torch.randn(t.shape, generator=g)).mul_((2 / t[0].numel()) ** 0.5)
        elif kind == "small":
            t.copy_(torch.randn(t.shape, generator=g)).mul_(0.2)
        else:  # (low, high): uniform
            t.copy_(torch.rand(t.shape, generator=g)).mul_(kind[1] - kind[0]).add_(kind[0])

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                draw(m.weight, "weight")
                if m.bias is not None:
                    draw(m.bias, "small")
            elif isinstance(m, nn.BatchNorm2d):
                draw(m.weight, (0.5, 1.5))
                draw(m.bias, "small")
                draw(m.running_mean, "small")
                draw(m.running_var, (0.5, 2.0))
                m.num_batches_tracked.fill_(7)
                done.add(id(m.num_batches_tracked))
    assert all(id(t) in done for t in model.state_dict(keep_vars=True).values())
    return model


def assert_same(ours, theirs):
    # float64 throughout: a different layer anywhere moves the outputs far more than this
    atol = 1e-10 * max(1.0, theirs.abs().max().item())
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=atol)


def twin_pair(name, seed=0, build_ours=None):
    """torchvision's twin with random weights, and dlcore's network with them loaded strictly
    (both float64, on the CPU). ``assign=True`` hands dlcore's network the twin's parameters
    themselves (VGG's are a gigabyte in float64) and copies of its buffers, which training mode
    updates."""
    build, build_theirs = TWINS[name]
    theirs = randomise(on_meta(build_theirs, torch.float64).to_empty(device="cpu"), seed)
    ours = on_meta(build_ours or build, torch.float64)
    buffers = {k for k, _ in theirs.named_buffers()}
    state = {k: v.clone() if k in buffers else v for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(state, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def compare_forwards(ours, theirs, x):
    """Evaluation mode, then training mode (dropout the same by seeding before each forward,
    batch statistics in batch normalisation), then the running statistics left behind."""
    with torch.no_grad():
        assert_same(ours.eval()(x), theirs.eval()(x))
        torch.manual_seed(1)
        a = ours.train()(x)
        torch.manual_seed(1)
        b = theirs.train()(x)
    assert isinstance(a, tuple) == isinstance(b, tuple)
    for p, q in zip(*((a, b) if isinstance(a, tuple) else ((a,), (b,))), strict=True):
        assert_same(p, q)
    # the buffers (the parameters are shared, and no forward changes them)
    for (k, p), (j, q) in zip(ours.named_buffers(), theirs.named_buffers(), strict=True):
        assert k == j
        if p.is_floating_point():
            assert_same(p, q)
        else:
            assert torch.equal(p, q)  # num_batches_tracked, counted up by one
    return a, b


# ------------------------------------------------------------------------------------ the tests

@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # the tensors here are small: one thread is as fast, and never waits on a busy second core
    # (with two, a loaded machine made each small batch-norm call a hundred times slower)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", list(TWINS))
def test_state_dict_layouts_match_and_load_strictly_both_ways(name):
    build_ours, build_theirs = TWINS[name]
    ours, theirs = on_meta(build_ours), on_meta(build_theirs)
    assert layout(ours) == layout(theirs)  # every key and shape, in the same order
    for src, dst in [(ours, theirs), (theirs, ours)]:
        result = dst.load_state_dict(src.state_dict(), strict=True)
        assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.parametrize("name", ["vgg11", "vgg16_bn", "vgg19", "googlenet", "googlenet_aux",
                                  "resnet18", "resnet34", "resnet50"])
def test_random_weights_give_the_same_outputs(name):
    ours, theirs = twin_pair(name)
    x = image(name, seed=2)
    a, b = compare_forwards(ours, theirs, x)
    if name == "googlenet_aux":  # three outputs in training mode, in the same order
        assert len(a) == 3 and all(o.shape == (2, 1000) for o in a)
        assert not torch.allclose(a[1], a[2])  # two different heads, not one twice
    else:
        assert a.shape == (2, 1000)


def test_torchvisions_published_googlenet_file_carries_the_auxiliary_heads():
    # torchvision's googlenet(weights=...) builds GoogLeNet(aux_logits=True), loads the file
    # strictly, then drops aux1 and aux2 unless asked for them: so the file has their keys
    published = on_meta(TvGoogLeNet).state_dict()
    assert any(k.startswith("aux1.") for k in published)
    ours = on_meta(lambda: models.googlenet(aux_logits=True))
    ours.load_state_dict(published, strict=True)
    # dlcore's default (no heads) refuses the whole file, as torchvision's GoogLeNet(
    # aux_logits=False) would; without the heads' keys it loads strictly
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\).*aux1\."):
        on_meta(models.googlenet).load_state_dict(published, strict=True)
    trunk = {k: v for k, v in published.items() if not k.startswith(("aux1.", "aux2."))}
    on_meta(models.googlenet).load_state_dict(trunk, strict=True)


def test_googlenet_with_published_weights_expects_torchvisions_input_transform():
    # with weights, torchvision sets transform_input=True (its weights came from TensorFlow);
    # dlcore has no such switch: the same numbers come out once the input is transformed
    ours, theirs = twin_pair("googlenet", seed=3)
    theirs.transform_input = True
    x = image("googlenet", seed=4)
    with torch.no_grad():
        assert_same(ours.eval()(theirs._transform_input(x)), theirs.eval()(x))
        assert not torch.allclose(ours(x), theirs(x))


def test_resnet_stride_in_the_3x3_is_torchvisions_and_the_check_would_see_a_move():
    # the paper's placement (stride in the first 1x1) has the same weights, loads strictly,
    # and computes something else: the output comparison above is not vacuous
    paper, theirs = twin_pair("resnet50", seed=5,
                              build_ours=lambda: models.resnet50(stride_in_1x1=True))
    x = image("resnet50", seed=6)
    with torch.no_grad():
        assert not torch.allclose(paper.eval()(x), theirs.eval()(x), rtol=1e-3, atol=1e-3)
