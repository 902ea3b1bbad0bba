"""What a reader sees when a chapter cell fails for a reason dlcore can name.

IPython shows an exception's ``_render_traceback_()`` instead of the traceback when it has
one. For the errors below (a dataset that is missing, a training run that diverged) the
message says what happened and what to do; forty lines of library frames above it would only
hide it. Outside IPython they are ordinary exceptions with ordinary tracebacks.
"""


class ReaderError(Exception):
    """An error whose message is all a reader needs: IPython shows just that message."""

    def _render_traceback_(self):
        red, reset = "\x1b[0;31m", "\x1b[0m"
        return [f"{red}{type(self).__name__}{reset}: {self}"]
