"""dlcore.models.autoencoder: shapes, tied weights, the contractive penalty against autograd, the
linear autoencoder's PCA subspace, the corruption processes, and the NumPy twin."""

import numpy as np
import pytest
import torch

from dlcore import models, nn
from dlcore.data import ArrayBatches
from dlcore.train import fit
from dlcore.twins import to_torch
from nn_helpers import assert_close


def test_shapes_parameters_and_tied_weights():
    ae = models.Autoencoder([20, 8, 3])
    x = torch.rand(5, 20)
    assert ae.encode(x).shape == (5, 3) and ae(x).shape == (5, 20)
    assert [n for n, _ in ae.named_parameters()][:2] == ["encoder.0.weight", "encoder.0.bias"]
    tied = models.Autoencoder([20, 8, 3], tied=True)
    untied_count = sum(p.numel() for p in ae.parameters())
    tied_count = sum(p.numel() for p in tied.parameters())
    assert untied_count - tied_count == 20 * 8 + 8 * 3  # the decoder weights are shared
    tied(x).sum().backward()
    assert tied.encoder[0].weight.grad is not None
    with pytest.raises(ValueError, match="expects inputs with 20 features"):
        ae(torch.rand(5, 19))
    with pytest.raises(ValueError, match="activation must be one of"):
        models.Autoencoder([4, 2], activation="swish")
    with pytest.raises(ValueError, match="at least two positive ints"):
        models.Autoencoder([4])


def test_contractive_penalty_is_the_jacobian_norm():
    torch.manual_seed(0)
    ae = models.Autoencoder([6, 4]).double()
    x = torch.rand(3, 6, dtype=torch.float64)
    h = ae.encode(x)
    closed = models.contractive_penalty(1.0)(ae, x, h)
    jac = [torch.autograd.functional.jacobian(ae.encode, x[i:i + 1])[0, :, 0] for i in range(3)]
    by_autograd = torch.stack([(j ** 2).sum() for j in jac]).mean()
    assert_close(closed.item(), by_autograd.item(), rtol=1e-12)
    with pytest.raises(ValueError, match="one-layer encoders"):
        models.contractive_penalty(1.0)(models.Autoencoder([6, 4, 2]), x.float(), h)


def test_sparsity_penalties():
    h = torch.tensor([[0.1, -0.2], [0.3, 0.0]])
    assert models.sparsity_penalty(2.0)(None, None, h).item() == pytest.approx(2 * 0.3)
    codes = torch.full((4, 3), 0.05)
    assert models.kl_sparsity_penalty(0.05, 1.0)(None, None, codes).item() == pytest.approx(0)
    assert models.kl_sparsity_penalty(0.05, 1.0)(None, None, codes + 0.2).item() > 0.1
    with pytest.raises(ValueError, match=r"target activation must be in \(0, 1\)"):
        models.kl_sparsity_penalty(1.5, 1.0)


def test_corruption_processes_keep_their_noise_level():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(400, 500)
    masked = models.masking_noise(0.3, g)(x)
    assert abs((masked == 0).float().mean().item() - 0.3) < 0.005
    noisy = models.gaussian_noise(0.2, g)(x)
    assert abs((noisy - x).std().item() - 0.2) < 0.002 and abs((noisy - x).mean().item()) < 0.002
    with pytest.raises(ValueError, match="masking fraction"):
        models.masking_noise(1.0)
    with pytest.raises(ValueError, match="noise std"):
        models.gaussian_noise(-1)


def test_a_linear_autoencoder_finds_the_pca_subspace():
    rng = np.random.default_rng(0)
    # data with a clear 3-dimensional principal subspace in 10 dimensions
    X = rng.normal(size=(2000, 3)) @ rng.normal(size=(3, 10)) * 2 + 0.1 * rng.normal(size=(2000, 10))
    X = (X - X.mean(0)).astype(np.float32)
    torch.manual_seed(0)
    ae = models.Autoencoder([10, 3], activation="linear", output_activation="linear")
    fit(ae, torch.optim.Adam(ae.parameters(), lr=0.01),
        ArrayBatches(X, batch_size=100, shuffle=True), loss=models.reconstruction_loss(),
        epochs=30, progress=False)
    pcs = np.linalg.svd(X, full_matrices=False)[2][:3].T  # top 3 principal directions
    learned = np.linalg.qr(ae.decoder[0].weight.detach().numpy())[0]
    cosines = np.linalg.svd(pcs.T @ learned, compute_uv=False)
    angles = np.degrees(np.arccos(np.clip(cosines, -1, 1)))
    assert angles.max() < 1.0


def test_greedy_pretraining_and_unrolling():
    data = torch.rand(64, 12)
    seen = []

    def train_fn(ae, inputs):
        seen.append(tuple(inputs.shape))

    layers = models.pretrain_greedy([12, 6, 2], data, train_fn)
    assert seen == [(64, 12), (64, 6)] and [ae.sizes for ae in layers] == [[12, 6], [6, 2]]
    deep = models.unroll(layers)
    x = torch.rand(3, 12)
    with torch.no_grad():
        by_layers = layers[0].decode(layers[1].decode(layers[1].encode(layers[0].encode(x))))
        assert torch.allclose(deep(x), by_layers, atol=1e-7)


def test_numpy_tied_autoencoder_makes_the_same_updates():
    f64 = np.float64
    enc = nn.Linear(8, 3, dtype=f64, rng=0)
    ours = nn.Sequential(enc, nn.Sigmoid(), nn.TiedLinear(enc.weight, rng=1), nn.Sigmoid())
    theirs = models.Autoencoder([8, 3], tied=True).double()
    key_map = {"0.weight": "encoder.0.weight", "0.bias": "encoder.0.bias",
               "2.weight": "encoder.0.weight", "2.bias": "decoder_bias.0"}
    to_torch(ours, theirs, key_map=key_map)
    x = np.random.default_rng(2).random((16, 8))
    opt = nn.optim.SGD(ours.parameters(), lr=0.5)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.5)
    mse, x_t = nn.MSELoss(), torch.from_numpy(x)
    for _ in range(5):
        opt.zero_grad()
        mse(ours(x), x)
        ours.backward(mse.backward())
        opt.step()
        opt_t.zero_grad()
        torch.nn.functional.mse_loss(theirs(x_t), x_t).backward()
        opt_t.step()
    assert_close(ours[0].weight.data, theirs.encoder[0].weight)
    assert_close(ours[2].bias.data, theirs.decoder_bias[0])


def test_classifier_from_encoder_copies_the_encoder():
    torch.manual_seed(0)
    ae = models.Autoencoder([12, 6, 3])
    clf = models.classifier_from_encoder(ae, num_classes=4)
    x = torch.rand(5, 12)
    with torch.no_grad():
        assert torch.allclose(clf[:4](x), torch.sigmoid(
            ae.encoder[1](torch.sigmoid(ae.encoder[0](x)))))
    assert clf(x).shape == (5, 4)
    with torch.no_grad():
        clf[0].weight.add_(1.0)  # training the classifier leaves the autoencoder alone
    assert not torch.equal(clf[0].weight, ae.encoder[0].weight)
    assert len(models.classifier_from_encoder(ae, 4, depth=1)) == 3
    with pytest.raises(ValueError, match="activation must be one of"):
        models.classifier_from_encoder(ae, 4, activation="gelu")
    with pytest.raises(ValueError, match=r"depth must be in 1..2"):
        models.classifier_from_encoder(ae, 4, depth=3)
