"""dlcore.twins: copying state dicts between a dlcore.nn model and its torch twin, by key."""

import re

import numpy as np
import pytest
import torch

from dlcore import nn
from dlcore.twins import from_torch, matched_keys, to_torch
from nn_helpers import assert_close


def ours():
    f64 = np.float64
    return nn.Sequential(nn.Linear(4, 3, dtype=f64, rng=0), nn.BatchNorm1d(3, dtype=f64),
                         nn.ReLU(), nn.Linear(3, 2, dtype=f64, rng=1))


def theirs():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(),
                               torch.nn.Linear(3, 2)).double()


class Renamed(torch.nn.Module):
    """The same network with named layers, as a torch model often is."""

    def __init__(self):
        super().__init__()
        self.hidden, self.norm = torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)
        self.out = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.out(torch.relu(self.norm(self.hidden(x))))


RENAME = {"0": "hidden", "1": "norm", "3": "out"}


def test_round_trip_copies_parameters_and_buffers():
    model, twin = ours(), theirs()
    model(np.random.default_rng(0).standard_normal((5, 4)))  # move the running statistics
    to_torch(model, twin)
    for key, value in model.state_dict().items():
        assert_close(value, twin.state_dict()[key], rtol=0, atol=0, what=key)
    x = np.random.default_rng(1).standard_normal((6, 4))
    model.eval(), twin.eval()
    assert_close(model(x), twin(torch.from_numpy(x)))
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(-2)
    back = from_torch(twin, ours())
    for key, value in twin.state_dict().items():
        assert_close(back.state_dict()[key], value, rtol=0, atol=0, what=key)


BUFFERS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@pytest.mark.parametrize("key_map", [
    lambda key: RENAME[key.split(".")[0]] + "." + key.split(".", 1)[1],
    {f"{a}.{p}": f"{b}.{p}" for a, b in RENAME.items() for p in BUFFERS},
], ids=["function", "dict"])
def test_key_map_renames(key_map):
    model, twin = ours(), Renamed().double()
    pairs = matched_keys(model, twin, key_map)
    assert pairs[0] == ("0.weight", "hidden.weight") and len(pairs) == 9
    to_torch(model, twin, key_map)
    x = np.random.default_rng(2).standard_normal((5, 4))
    assert_close(model(x), twin(torch.from_numpy(x)))


def test_dtype_follows_the_destination():
    model = nn.Sequential(nn.Linear(3, 2, rng=0))  # float32
    twin = torch.nn.Sequential(torch.nn.Linear(3, 2)).double()
    to_torch(model, twin)
    assert twin[0].weight.dtype == torch.float64
    assert_close(model[0].weight.data.astype(np.float64), twin[0].weight, rtol=0, atol=0)
    from_torch(twin, model)
    assert model[0].weight.dtype == np.float32


def test_mismatched_keys_and_shapes_are_clear_errors_and_copy_nothing():
    model, twin = ours(), Renamed().double()
    before = {k: v.clone() for k, v in twin.state_dict().items()}
    with pytest.raises(KeyError, match=r"only in the NumPy model: \['0.weight'.*only in the torch "
                                       r"model: \['hidden.weight'.*key_map="):
        to_torch(model, twin)
    wide = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                               torch.nn.Linear(5, 2)).double()
    with pytest.raises(ValueError, match=r"0.weight: \(3, 4\) vs 0.weight: \(5, 4\)"):
        to_torch(model, wide)
    with pytest.raises(ValueError, match="shapes differ"):
        from_torch(wide, model)
    for key, value in twin.state_dict().items():
        assert torch.equal(value, before[key])
    with pytest.raises(TypeError, match="key_map must be a dict or a function"):
        to_torch(model, theirs(), key_map=["0.weight"])


def test_strict_false_copies_the_shared_keys_only():
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64, rng=0))
    twin = theirs()
    to_torch(model, twin, strict=False)
    assert_close(model[0].weight.data, twin[0].weight, rtol=0, atol=0)


@pytest.mark.parametrize("key_map, expected", [
    ({"0.weight": "3.weight"}, "key_map sends 0.weight and 3.weight both to 3.weight"),
    ({"0.weight": "hidden.weight", "3.weight": "hidden.weight"},
     "key_map sends 0.weight and 3.weight both to hidden.weight"),
    (lambda key: "3.weight" if key.endswith("weight") else key,
     "key_map sends 0.weight, 1.weight and 3.weight all to 3.weight"),
], ids=["dict onto a key already taken", "dict, two entries", "function"])
@pytest.mark.parametrize("strict", [True, False])
def test_a_key_map_that_sends_two_arrays_to_one_key_is_refused(key_map, expected, strict):
    # Before: with strict, a KeyError saying the target key was missing; without, the last
    # array copied over the others.
    model, twin = ours(), theirs()
    before = {k: v.clone() for k, v in twin.state_dict().items()}
    with pytest.raises(ValueError, match=re.escape(expected)):
        to_torch(model, twin, key_map, strict=strict)
    with pytest.raises(ValueError, match=re.escape(expected)):
        from_torch(twin, model, key_map, strict=strict)
    for key, value in twin.state_dict().items():
        assert torch.equal(value, before[key])


def test_a_tied_weight_may_go_to_one_key_from_each_of_its_names():
    # Chapter 4's tied autoencoder: the decoder's "2.weight" is the encoder's Parameter.
    encoder = nn.Linear(4, 3, dtype=np.float64, rng=0)
    tied = nn.Sequential(encoder, nn.Sigmoid(), nn.TiedLinear(encoder.weight, rng=1))
    twin = torch.nn.Sequential(torch.nn.Linear(4, 3)).double()
    twin.register_parameter("decoder_bias", torch.nn.Parameter(torch.zeros(4).double()))
    key_map = {"2.weight": "0.weight", "2.bias": "decoder_bias"}
    assert matched_keys(tied, twin, key_map)[2] == ("2.weight", "0.weight")
    to_torch(tied, twin, key_map)
    assert_close(encoder.weight.data, twin[0].weight, rtol=0, atol=0)
