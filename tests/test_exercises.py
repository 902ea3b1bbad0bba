"""dlcore.exercises: each checker with a right, a wrong and a missing answer; it prints a verdict,
returns a bool, never raises, and never prints the reference solution of a numeric answer."""

import numpy as np

from dlcore import exercises, nn


class RightTanh(nn.Module):
    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, grad_out):
        return grad_out * (1 - self.y ** 2)


class WrongTanh(RightTanh):
    def backward(self, grad_out):
        return grad_out * (1 - self.y)  # forgot the square


class StubTanh(nn.Module):
    def forward(self, x):
        raise NotImplementedError("your forward")


class BrokenTanh(RightTanh):
    def backward(self, grad_out):
        return grad_out @ np.ones((2, 2))  # a shape error


def test_check_module(capsys):
    assert exercises.check_module(RightTanh, nn.Tanh, (3, 4)) is True
    assert capsys.readouterr().out.startswith("Correct: RightTanh matches the reference")
    assert exercises.check_module(WrongTanh, nn.Tanh, (3, 4), hint="Check tanh'.") is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: on random input 1 of 3, input gradient[")
    assert "than the reference value" in out and out.rstrip().endswith("Check tanh'.")
    assert exercises.check_module(StubTanh, nn.Tanh, (3, 4)) is False
    assert capsys.readouterr().out.startswith("No answer yet: fill in StubTanh.forward")
    assert exercises.check_module(BrokenTanh, nn.Tanh, (3, 4)) is False
    assert "BrokenTanh.backward raised ValueError" in capsys.readouterr().out
    assert exercises.check_module(None, nn.Tanh, (3, 4), name="MyTanh") is False
    assert "fill in MyTanh" in capsys.readouterr().out


def test_check_module_uses_fresh_inputs_each_time(capsys):
    seen = []

    class Recording(RightTanh):
        def forward(self, x):
            seen.append(x.copy())
            return super().forward(x)

    exercises.check_module(Recording, nn.Tanh, (2, 2))
    exercises.check_module(Recording, nn.Tanh, (2, 2))
    assert len(seen) == 6 and not np.array_equal(seen[0], seen[3])


def test_check_function(capsys):
    reference = lambda X: np.c_[X, X[:, 0] * X[:, 1]]
    inputs = lambda rng: (rng.normal(size=(5, 2)),)
    assert exercises.check_function(lambda X: np.c_[X, X.prod(1)], reference, inputs) is True
    assert "agrees with the reference on 3 input(s)" in capsys.readouterr().out
    assert exercises.check_function(lambda X: np.c_[X, X.sum(1)], reference, inputs,
                                    name="phi") is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: on input 1 of 3, the result[0, 2] is")
    assert exercises.check_function(lambda X: X, reference, inputs) is False
    assert "has shape (5, 2), expected (5, 3)" in capsys.readouterr().out
    fixed = [(np.array([[0, 0], [1, 1]]),)]
    assert exercises.check_function(lambda X: 1 - X.min(1), lambda X: 1 - X[:, 0] * X[:, 1],
                                    fixed) is True
    assert exercises.check_function(None, reference, inputs, name="phi") is False
    assert "fill in phi" in capsys.readouterr().out


def test_check_value_never_prints_the_reference(capsys):
    reference = lambda: np.log(2.0)  # what the book's code computes at check time
    assert exercises.check_value(0.6931472, reference, rtol=1e-6, name="the loss") is True
    assert exercises.check_value(0.7, reference, name="the loss") is False
    out = capsys.readouterr().out
    assert "the loss is 0.7, larger than the reference value" in out
    assert "0.693" not in out.split("\n")[1]  # the wrong answer's verdict hides the solution
    assert exercises.check_value([1, 2], lambda: np.array([1, 3]), name="counts") is False
    assert "counts[1] is 2, smaller than the reference value" in capsys.readouterr().out
    assert exercises.check_value(None, reference, name="your loss") is False
    assert "No answer yet: fill in your loss" in capsys.readouterr().out
