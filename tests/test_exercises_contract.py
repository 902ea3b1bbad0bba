"""dlcore.exercises keeps its contract whatever the reader's answer does: a verdict, never the
solution, never raise. Arguments reach answer and reference as given (arrays copied), a loop that
never ends is stopped, a flood of printing is cut, and a failing reference is the book's bug."""

import signal
import time

import numpy as np
import pytest
import torch

from dlcore import augment, exercises, nn

needs_alarm = pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="no SIGALRM here")


@pytest.fixture
def deadline():
    """Fail, not hang, if a check never returns (the old checkers had no time limit)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        pytest.fail("the check did not return within 10 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 10)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def verdict(capsys):
    """The last line printed: the verdict."""
    return capsys.readouterr().out.rstrip("\n").split("\n")[-1]


# -- arguments as given, arrays isolated ------------------------------------------------------

def test_an_int_argument_stays_an_int(capsys):
    def reference(n):
        if not isinstance(n, int):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        return list(range(n))

    assert exercises.check_function(lambda n: list(range(n)), reference, [(4,), (7,)]) is True
    assert verdict(capsys).startswith("Correct:")


def test_chapter_8_exercise_5s_right_answer_is_correct(capsys):
    def five_crops(x, size):
        h, w = x.shape[2:]
        corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size),
                   ((h - size) // 2, (w - size) // 2)]
        return np.stack([x[:, :, r:r + size, c:c + size] for r, c in corners])

    assert exercises.check_function(
        five_crops, lambda x, size: augment.ten_crop(x, size)[:5],
        inputs=lambda r: (r.random((2, 3, 9, 11)), 5), rtol=0, atol=0) is True
    assert verdict(capsys).startswith("Correct: five_crops agrees")


def test_arrays_inside_containers_are_copied_for_each_side(capsys):
    def answer(params, xs):  # writes into its inputs, then answers right
        result = params["w"] * xs[0].numpy()
        params["w"][:] = 0
        xs[0].add_(100)
        return result

    def reference(params, xs):
        assert isinstance(params, dict) and isinstance(xs, list)
        assert isinstance(xs[0], torch.Tensor)
        return params["w"] * xs[0].numpy()

    inputs = lambda r: ({"w": r.normal(size=3)}, [torch.from_numpy(r.normal(size=3))])
    assert exercises.check_function(answer, reference, inputs) is True
    assert verdict(capsys).startswith("Correct:")


def test_fixed_inputs_are_not_changed_by_the_answer(capsys):
    x = np.arange(4.0)
    exercises.check_function(lambda v: v.__imul__(0), lambda v: v * 0, [(x,)])
    assert np.array_equal(x, np.arange(4.0))


# -- never the solution -----------------------------------------------------------------------

EXPECTED = np.array([0.1767767, 1.4142136, -2.7182818])
SECRETS = ["0.1767", "0.177", "0.18", "1.414", "1.41", "2.718", "2.72"]


class Unprintable:
    def __str__(self):
        raise RuntimeError("no str")

    __repr__ = __format__ = __str__


WRONG = {
    "scalar": 0.125,
    "shape": np.zeros(4),
    "ragged": [[0.1, 0.2], [0.3]],
    "tensor requiring grad": torch.zeros(3, dtype=torch.float64, requires_grad=True),
    "nan": np.array([np.nan, 1.0, 2.0]),
    "factor": 2 * EXPECTED,
    "one entry": EXPECTED + [0, 0, 1e-3],
    "tuple": (0.1, 0.2, 0.3),
    "text": "hello",
    "dict": {"a": 1},
    "unprintable": Unprintable(),
}


def assert_no_secret(out):
    assert not [s for s in SECRETS if s in out], out


@pytest.mark.parametrize("wrong", WRONG.values(), ids=WRONG.keys())
def test_check_value_never_prints_the_reference(capsys, wrong):
    assert exercises.check_value(wrong, lambda: EXPECTED.copy(), name="v") is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: v"), out
    assert_no_secret(out)


@pytest.mark.parametrize("wrong", WRONG.values(), ids=WRONG.keys())
def test_check_function_never_prints_the_reference(capsys, wrong):
    assert exercises.check_function(lambda x: wrong, lambda x: EXPECTED.copy(), [(1,)]) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: on input 1 of 1, the result"), out
    assert_no_secret(out)


@pytest.mark.parametrize("wrong", WRONG.values(), ids=WRONG.keys())
def test_check_module_never_prints_the_reference(capsys, wrong):
    class Reference(nn.Module):
        def forward(self, x):
            return EXPECTED.copy()

    class Answer(nn.Module):
        def forward(self, x):
            return wrong

    assert exercises.check_module(Answer, Reference, (3,)) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: on random input 1 of 3, forward output"), out
    assert_no_secret(out)


def test_the_issues_example_no_longer_shows_the_expected_number(capsys):
    reference = lambda x: x / np.sqrt(2)
    assert exercises.check_function(lambda x: x / 2, reference, [(0.25,)]) is False
    out = capsys.readouterr().out
    assert "the result is 0.125, smaller than the reference value" in out
    assert "0.17" not in out and "expected" not in out


def test_a_wrong_sign_is_named(capsys):
    exercises.check_function(lambda x: -x, lambda x: x, lambda r: (r.normal(size=5),))
    assert "opposite sign of the reference everywhere" in verdict(capsys)


def test_a_constant_factor_is_named_but_not_given(capsys):
    exercises.check_function(lambda x: 3 * x, lambda x: x, lambda r: (r.normal(size=5),))
    out = verdict(capsys)
    assert "larger than the reference by the same factor" in out and "3" not in out.split(";")[1]


def test_nan_where_the_reference_is_finite(capsys):
    exercises.check_value([1.0, np.nan], lambda: np.array([1.0, 0.5]), name="p")
    assert "p[1] is nan where the reference value is finite" in verdict(capsys)


def test_a_tuple_of_results_is_not_an_array(capsys):
    reference = lambda x: (x, 2 * x)
    assert exercises.check_function(lambda x: np.stack([x, 2 * x]), reference,
                                    lambda r: (r.normal(size=3),)) is False
    assert "the result is an array of shape (2, 3), expected a tuple of 2 entries" in \
        verdict(capsys)


def test_a_tuple_of_arrays_of_different_shapes_is_compared_entry_by_entry(capsys):
    reference = lambda a, b: (-0.5 * a, -0.5 * b)  # chapter 2's (ΔW_kj, ΔW_ji)
    inputs = lambda r: (r.normal(size=(2, 5)), r.normal(size=(4, 4)))
    assert exercises.check_function(reference, reference, inputs) is True
    assert exercises.check_function(lambda a, b: (-0.5 * a, 0.5 * b), reference, inputs) is False
    assert "the result[1][0, 0] is" in verdict(capsys)


def test_when_the_answer_is_a_shape_the_expected_shape_is_not_shown(capsys):
    for wrong in [(7, 9), (7, 9, 1), [7], 63]:
        assert exercises.check_value(wrong, lambda: (8, 8), name="size") is False
        out = capsys.readouterr().out
        assert "8" not in out, out


def test_the_references_printing_is_hidden_and_the_answers_shown(capsys):
    def reference(x):
        print("the solution is 0.1767767")
        return x / np.sqrt(2)

    def answer(x):
        print("my debug line")
        return x

    assert exercises.check_function(answer, reference, [(0.25,)]) is False
    out = capsys.readouterr().out
    assert "my debug line" in out and "0.1767" not in out
    assert exercises.check_value(0.5, lambda: reference(0.25)) is False
    assert "0.1767" not in capsys.readouterr().out


# -- never raise ------------------------------------------------------------------------------

def test_a_tensor_that_requires_grad_is_compared(capsys):
    answer = lambda x: torch.from_numpy(x).requires_grad_() * 2
    assert exercises.check_function(answer, lambda x: 2 * x, lambda r: (r.normal(size=3),))
    assert exercises.check_value(torch.tensor(2.0, requires_grad=True), lambda: 2.0) is True
    assert exercises.check_value(torch.ones(2, requires_grad=True), lambda: np.zeros(2),
                                 name="t") is False
    assert "t[0] is 1, larger than the reference value" in verdict(capsys)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_a_tensor_on_the_gpu_is_compared(capsys):
    answer = lambda x: torch.from_numpy(x).cuda().requires_grad_() * 2
    assert exercises.check_function(answer, lambda x: 2 * x, lambda r: (r.normal(size=3),))
    assert exercises.check_function(lambda x: x * 2, lambda x: 2 * x,
                                    [(torch.ones(3, device="cuda"),)])


def test_a_module_whose_forward_returns_a_tensor_that_requires_grad(capsys):
    class TorchTanh(nn.Module):
        def forward(self, x):
            self.y = torch.tanh(torch.from_numpy(x).requires_grad_())
            return self.y

        def backward(self, grad_out):
            return grad_out * (1 - self.y.detach().numpy() ** 2)

    assert exercises.check_module(TorchTanh, nn.Tanh, (2, 3)) is True


def test_a_ragged_list_gets_a_verdict(capsys):
    ragged = [[1.0, 2.0], [3.0]]
    assert exercises.check_function(lambda x: ragged, lambda x: np.zeros((2, 2)), [(1,)]) is False
    assert "the result is a ragged list (its entries have different lengths), expected an " \
           "array of shape (2, 2)" in verdict(capsys)
    assert exercises.check_value(ragged, lambda: np.zeros((2, 2)), name="m") is False
    assert "m is a ragged list" in verdict(capsys)


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("cannot show this message")


def test_an_exception_whose_str_raises(capsys):
    def answer(x):
        raise UnprintableError

    assert exercises.check_function(answer, lambda x: x, [(1.0,)]) is False
    assert verdict(capsys).startswith("Not yet: answer raised UnprintableError: <a ")


def test_an_answer_whose_getattr_raises_is_named_by_default(capsys):
    class Strange:
        def __getattr__(self, name):
            raise RuntimeError("no attributes here")

        def __call__(self, x):
            return x

    assert exercises.check_function(Strange(), lambda x: x, [(1.0,)]) is True
    assert verdict(capsys).startswith("Correct: your function agrees")


def test_check_value_with_an_object_that_cannot_be_read(capsys):
    class Hostile:
        def __array__(self, *args, **kwargs):
            raise ValueError("not an array")

        def __str__(self):
            raise ValueError("no str")

        __repr__ = __format__ = __str__

    assert exercises.check_value(Hostile(), lambda: 1.0, name="x") is False
    assert verdict(capsys).startswith("Not yet: x could not be compared with the reference "
                                      "(ValueError: not an array)")


def test_a_module_that_needs_constructor_arguments(capsys):
    class NeedsSize(nn.Tanh):
        def __init__(self, size):
            super().__init__()

    assert exercises.check_module(NeedsSize, nn.Tanh, (2, 2)) is False
    assert verdict(capsys).startswith("Not yet: NeedsSize() raised TypeError")


def test_a_module_whose_forward_returns_none(capsys):
    class ReturnsNothing(nn.Module):
        def forward(self, x):
            pass

    assert exercises.check_module(ReturnsNothing, nn.Tanh, (3, 4)) is False
    assert "forward output is None, expected an array of shape (3, 4)" in verdict(capsys)


def test_a_layer_without_backward(capsys):
    class ForwardOnly:  # not even an nn.Module
        def __call__(self, x):
            return np.tanh(x)

    assert exercises.check_module(ForwardOnly, nn.Tanh, (2, 2)) is False
    assert verdict(capsys).startswith("Not yet: ForwardOnly.backward raised AttributeError")


def test_keyboard_interrupt_still_stops_the_cell():
    def pressed_stop(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        exercises.check_function(pressed_stop, lambda x: x, [(1.0,)])


# -- the book's bugs --------------------------------------------------------------------------

def broken_reference(*args):
    raise ValueError("the book's own mistake")


def test_a_reference_that_raises_is_the_books_bug(capsys):
    assert exercises.check_function(lambda x: x, broken_reference, [(1.0,)]) is False
    out = verdict(capsys)
    assert out.startswith("Cannot check: the book's reference raised ValueError: the book's "
                          "own mistake; this is a bug in the book")
    assert exercises.check_value(1.0, broken_reference) is False
    assert "bug in the book" in verdict(capsys)
    assert exercises.check_module(nn.Tanh, broken_reference, (2, 2)) is False
    assert "the book's reference layer raised ValueError" in verdict(capsys)


def test_a_reference_layer_whose_backward_raises_is_the_books_bug(capsys):
    class BrokenBackward(nn.Tanh):
        def backward(self, grad_out):
            raise RuntimeError("oops")

    assert exercises.check_module(nn.Tanh, BrokenBackward, (2, 2)) is False
    assert "the book's reference backward raised RuntimeError: oops; this is a bug in the " \
           "book" in verdict(capsys)


def test_inputs_that_raise_are_the_books_bug(capsys):
    assert exercises.check_function(lambda x: x, lambda x: x, broken_reference) is False
    assert "the book's inputs raised ValueError" in verdict(capsys)


# -- time limit and bounded output ------------------------------------------------------------

def forever(*args):
    while True:
        pass


@needs_alarm
def test_an_answer_that_never_ends_is_stopped(capsys, deadline):
    start = time.monotonic()
    assert exercises.check_function(forever, lambda x: x, [(1.0,)], timeout=0.5,
                                    name="f") is False
    assert time.monotonic() - start < 3
    assert verdict(capsys).startswith("Not yet: f was stopped after 0.5 s without finishing")


@needs_alarm
def test_a_module_that_never_ends_is_stopped(capsys, deadline):
    class Forever(nn.Tanh):
        def backward(self, grad_out):
            forever()

    assert exercises.check_module(Forever, nn.Tanh, (2, 2), timeout=0.5) is False
    assert "Forever.backward was stopped after 0.5 s" in verdict(capsys)


@needs_alarm
def test_an_answer_that_catches_every_exception_is_still_stopped(capsys, deadline):
    def stubborn(x):
        while True:
            try:
                time.sleep(0.01)
            except Exception:
                pass

    assert exercises.check_function(stubborn, lambda x: x, [(1.0,)], timeout=0.5) is False
    assert "was stopped after 0.5 s" in verdict(capsys)


@needs_alarm
def test_a_reference_that_never_ends_is_the_books_bug(capsys, deadline):
    assert exercises.check_value(1.0, forever, timeout=0.5) is False
    out = verdict(capsys)
    assert out.startswith("Cannot check: the book's reference did not finish within 0.5 s")
    assert "bug in the book" in out
    assert exercises.check_function(lambda x: x, forever, [(1.0,)], timeout=0.5) is False
    assert "bug in the book" in verdict(capsys)


@needs_alarm
def test_reading_an_answer_that_never_ends_is_stopped(capsys, deadline):
    class Endless:
        def __array__(self, *args, **kwargs):
            forever()

    assert exercises.check_value(Endless(), lambda: 1.0, name="x", timeout=0.5) is False
    assert "reading x did not finish within 0.5 s" in verdict(capsys)


@needs_alarm
def test_the_default_limit_comes_from_the_environment(capsys, deadline, monkeypatch):
    monkeypatch.setenv("DLCORE_CHECK_TIMEOUT", "0.5")
    assert exercises.check_function(forever, lambda x: x, [(1.0,)], name="f") is False
    assert "f was stopped after 0.5 s" in verdict(capsys)


@needs_alarm
def test_timeout_0_turns_the_limit_off(capsys, deadline):
    handlers = []

    def answer(x):
        handlers.append(signal.getsignal(signal.SIGALRM))
        return x

    before = signal.getsignal(signal.SIGALRM)
    assert exercises.check_function(answer, lambda x: x, [(1.0,)], timeout=0) is True
    assert handlers == [before]  # no alarm of the checker's while the answer ran


@needs_alarm
def test_a_previous_alarm_handler_and_timer_are_restored(capsys, deadline):
    before = signal.getsignal(signal.SIGALRM)
    exercises.check_function(forever, lambda x: x, [(1.0,)], timeout=0.2)
    exercises.check_function(lambda x: x, lambda x: x, [(1.0,)], timeout=0.2)
    assert signal.getsignal(signal.SIGALRM) is before
    assert 5 < signal.getitimer(signal.ITIMER_REAL)[0] <= 10  # the deadline's timer runs on


def test_a_print_flood_is_cut(capsys):
    def chatty(x):
        for i in range(100_000):
            print("step", i)
        return x

    assert exercises.check_function(chatty, lambda x: x, [(1.0,)]) is True
    out = capsys.readouterr().out
    assert len(out) < 3000 and "step 0\n" in out
    assert "[... output cut:" in out and "more lines) not shown]" in out
    assert out.rstrip().split("\n")[-1].startswith("Correct:")


@needs_alarm
def test_an_endless_print_flood_is_cut_and_stopped(capsys, deadline):
    def spam(x):
        while True:
            print("spam")

    assert exercises.check_function(spam, lambda x: x, [(1.0,)], timeout=0.5) is False
    out = capsys.readouterr().out
    assert len(out) < 3000 and "output cut" in out and "was stopped after 0.5 s" in out
