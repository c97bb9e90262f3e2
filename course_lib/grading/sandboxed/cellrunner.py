"""Run notebook code cells in an in-process IPython shell and record nbformat outputs as a kernel would.

A Jupyter kernel costs a process start and `import torch` per notebook; running the cells in a shell
forked from a warm process pays them once. Outputs follow the kernel's shapes (stream, display_data,
execute_result, error) so that nbgrader scores them exactly as after its own execution.
"""

from __future__ import annotations

import io
import signal
import sys
from typing import Any, Callable

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

Output = dict[str, Any]


class CellTimeoutError(BaseException):
    """Raised inside a cell that ran past the per-cell timeout (a BaseException: `except Exception` can't eat it)."""


class _Recorder:
    """Collects the outputs of the cell that is running."""

    def __init__(self) -> None:
        self.outputs: list[Output] = []

    def stream(self, name: str, text: str) -> None:
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})


class _Stream(io.TextIOBase):
    """sys.stdout / sys.stderr replacement that records text as a stream output."""

    def __init__(self, recorder: _Recorder, name: str) -> None:
        self._recorder, self._name = recorder, name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            self._recorder.stream(self._name, text)
        return len(text)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False


class _Publisher(DisplayPublisher):
    recorder: _Recorder

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:
        self.recorder.outputs.append(
            {"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})})

    def clear_output(self, wait: bool = False) -> None:
        self.recorder.outputs.clear()


class _Hook(DisplayHook):
    recorder: _Recorder

    def start_displayhook(self) -> None:
        pass

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict, md_dict=None) -> None:
        self.recorder.outputs.append({"output_type": "execute_result", "execution_count": self.prompt_count,
                                      "data": dict(format_dict), "metadata": dict(md_dict or {})})

    def finish_displayhook(self) -> None:
        pass


class ZMQInteractiveShell(InteractiveShell):
    """Named like ipykernel's shell: libraries test the name (and the IPKernelApp config section) to
    decide they run in a notebook, e.g. tqdm.auto then draws a widget instead of writing to stderr."""

    recorder: _Recorder

    def _showtraceback(self, etype, evalue, stb) -> None:
        self.recorder.outputs.append({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                                      "evalue": str(evalue), "traceback": list(stb)})


def _make_shell(recorder: _Recorder) -> ZMQInteractiveShell:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.HistoryManager.enabled = False
    config.IPKernelApp.connection_file = ""
    shell = ZMQInteractiveShell.instance(config=config, displayhook_class=_Hook, display_pub_class=_Publisher)
    shell.recorder = shell.displayhook.recorder = shell.display_pub.recorder = recorder
    # Tracebacks as Python prints them, with the failing lines. IPython's default Context mode re-reads and
    # parses the source of every frame in each fresh child (about 0.1 s per failing cell in torch code).
    shell.InteractiveTB.set_mode("Plain")
    if "matplotlib.pyplot" in sys.modules:
        try:
            shell.enable_matplotlib("inline")
        except Exception:  # noqa: BLE001 - plots are a nicety, grading must go on
            pass
    return shell


def run_cells(sources: list[str], cell_timeout: float | None, send: Callable[[dict], None],
              started: Callable[[], None] | None = None) -> dict:
    """Execute `sources` in order in one namespace, sending {index, execution_count, outputs} after each.

    Empty cells are skipped like nbclient does; a cell past `cell_timeout` seconds is interrupted and
    recorded as a CellTimeoutError, and the next cell runs. A cell that failed is recorded as an error
    even if the code in it silenced IPython's traceback display. Returns the notebook's namespace.
    ``started`` is called once the shell is ready, before the first cell runs.
    """
    recorder = _Recorder()
    sys.stdout, sys.stderr = _Stream(recorder, "stdout"), _Stream(recorder, "stderr")
    shell = _make_shell(recorder)

    def on_alarm(signum, frame):
        raise CellTimeoutError(f"cell ran longer than {cell_timeout} s")

    signal.signal(signal.SIGALRM, on_alarm)
    if started is not None:
        started()
    for index, source in enumerate(sources):
        if not source.strip():
            send({"index": index, "execution_count": None, "outputs": []})
            continue
        recorder.outputs = []
        if cell_timeout:
            signal.setitimer(signal.ITIMER_REAL, cell_timeout)
        result = None
        try:
            result = shell.run_cell(source, store_history=True, silent=False)
        except CellTimeoutError as exc:  # raised outside the user code (e.g. in a post-run hook)
            shell.showtraceback((type(exc), exc, None))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        error = result is not None and (result.error_before_exec or result.error_in_exec)
        if error and not any(o["output_type"] == "error" for o in recorder.outputs):
            recorder.outputs.append({"output_type": "error", "ename": type(error).__name__,
                                     "evalue": str(error)[:300], "traceback": []})
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        send({"index": index, "execution_count": shell.execution_count - 1, "outputs": recorder.outputs})
    return shell.user_ns
