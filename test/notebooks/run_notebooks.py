"""Headless notebook test: runs each notebook top to bottom in a fresh sgdl-tslab kernel.

Usage (from the project root; scripts/test-notebooks.sh sets JUPYTER_PATH and picks the venv):
    .venv/bin/python test/notebooks/run_notebooks.py [--timeout S] [--inplace] [NOTEBOOK ...]

Default notebooks: notebooks/*.ipynb, sorted. A notebook fails when
- a cell's execute reply has status "error" (tslab: a thrown error or a type error), or
- a cell's stderr holds an error line: tslab prints thrown errors and its
  "UncaughtException:" / "UnhandledPromiseRejection:" reports there and leaves
  ename/evalue empty; rejections and timer errors do not fail the cell at all, and
  when they surface after the cell finished they arrive under that cell's message id
  while a later cell runs, which this runner also catches, or
- the notebook's kernelspec is not sgdl-tslab (JupyterLab would open it with another kernel).
Errors are never allowed (no --allow-errors semantics): the first failing cell ends the notebook.
Executed copies go to .cache/executed/ (or back into the notebook with --inplace).
The last line printed is "N passed, N failed"; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
import traceback
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async

KERNEL_NAME = "sgdl-tslab"
ROOT = Path(__file__).resolve().parents[2]

# stderr lines that mean a cell failed, whatever its reply status said.
ERROR_LINE = re.compile(
    r"^\s*("
    r"UnhandledPromiseRejection\b"
    r"|Unhandled promise rejection"
    r"|UncaughtException\b"
    r"|Uncaught\b"
    r"|(?:[A-Za-z_$][\w$]*)?Error(\s*\[[\w.-]+\])?:"  # Error: ..., TypeError: ..., DataError: ..., Error [ERR_X]: ...
    r")",
    re.MULTILINE,
)
# stdout: a rejected promise shown as a cell's value means a missing await on failing work.
REJECTED_VALUE = re.compile(r"<rejected>")


class CellFailure(Exception):
    """A cell that failed: where, why, and what it printed."""

    def __init__(self, index: int, source: str, reason: str, stderr: str, traceback_text: str = ""):
        super().__init__(reason)
        self.index = index
        self.source = source
        self.reason = reason
        self.stderr = stderr
        self.traceback_text = traceback_text


class StrictClient(NotebookClient):
    """nbclient's client that also keeps the stderr a cell's kernel request produces after the cell went idle."""

    def __init__(self, nb, **kw):
        super().__init__(nb, **kw)
        self.cell_of_msg: dict[str, int] = {}
        self.late_stderr: dict[int, str] = {}

    def _record_stray(self, msg) -> None:
        parent = msg.get("parent_header", {}).get("msg_id")
        if parent in self.cell_of_msg and msg.get("msg_type") == "stream":
            content = msg.get("content", {})
            if content.get("name") == "stderr":
                idx = self.cell_of_msg[parent]
                self.late_stderr[idx] = self.late_stderr.get(idx, "") + content.get("text", "")

    # Same loop as nbclient 0.11's, plus the record of messages meant for an earlier cell.
    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        assert self.kc is not None
        self.cell_of_msg[parent_msg_id] = cell_index
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    return
            else:
                self._record_stray(msg)

    async def drain(self, settle: float) -> None:
        """Reads what the kernel still sends for `settle` seconds after the last cell."""
        assert self.kc is not None
        deadline = time.monotonic() + settle
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=left))
            except (Empty, asyncio.TimeoutError):
                return
            self._record_stray(msg)


def stream_text(cell, name: str) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == name)


def check_cell_outputs(index: int, cell, late: str) -> None:
    """Raises CellFailure when a finished cell's outputs show an error the reply did not report."""
    own = stream_text(cell, "stderr")
    stderr = own + late
    m = ERROR_LINE.search(stderr)
    if m:
        line = stderr[m.start(1):].splitlines()[0].strip()
        when = " after the cell had finished (from a timer or promise of this or an earlier cell)" if m.start(1) >= len(own) else ""
        raise CellFailure(index, cell.source, f"error on stderr{when}: {line}", stderr)
    stdout = stream_text(cell, "stdout")
    if REJECTED_VALUE.search(stdout):
        raise CellFailure(index, cell.source, "the cell's value is a rejected Promise (missing await?)", stderr + stdout)


def check_late(client: StrictClient) -> None:
    """Checks the stderr that earlier cells produced after they had finished (it arrives while later cells run)."""
    for index in sorted(client.late_stderr):
        text = client.late_stderr.pop(index)
        check_cell_outputs(index, client.nb.cells[index], text)


async def run_cells(client: StrictClient, settle: float) -> None:
    """Executes the notebook's cells in order in one fresh kernel; raises CellFailure on the first failure."""
    nb = client.nb
    client.reset_execution_trackers()
    async with client.async_setup_kernel():
        assert client.kc is not None
        msg_id = await ensure_async(client.kc.kernel_info())
        info = await client.async_wait_for_reply(msg_id)
        if info is not None and "language_info" in info["content"]:
            nb.metadata["language_info"] = info["content"]["language_info"]
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            check_late(client)
            try:
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            except CellExecutionError as e:
                stderr = stream_text(cell, "stderr")
                # tslab's error reply is empty (ename "<Error>", no evalue): the message is on stderr.
                detail = "" if stderr.strip() else str(e)
                raise CellFailure(index, cell.source, "the kernel reported an error", stderr, detail) from None
            except CellTimeoutError:
                raise CellFailure(index, cell.source, f"timed out after {client.timeout} s", stream_text(cell, "stderr")) from None
            except DeadKernelError:
                raise CellFailure(index, cell.source, "the kernel died", stream_text(cell, "stderr")) from None
            check_cell_outputs(index, cell, client.late_stderr.pop(index, ""))
        await client.drain(settle)
        check_late(client)


def output_path(nb_path: Path, inplace: bool) -> Path:
    if inplace:
        return nb_path
    try:
        rel = nb_path.resolve().relative_to(ROOT)
    except ValueError:
        rel = Path("external") / nb_path.name
    return ROOT / ".cache" / "executed" / rel


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip("\n").splitlines()) if text.strip() else prefix + "(empty)"


def run_notebook(nb_path: Path, timeout: int, startup_timeout: int, settle: float, inplace: bool) -> bool:
    """Runs one notebook; prints PASS or FAIL with the failing cell; returns whether it passed."""
    shown = os.path.relpath(nb_path, Path.cwd())
    started = time.monotonic()
    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception as e:  # unreadable JSON or schema: a failure of this notebook, not of the run
        print(f"FAIL {shown}: cannot read the notebook: {e}", flush=True)
        return False
    spec = nb.metadata.get("kernelspec", {}).get("name")
    if spec != KERNEL_NAME:
        print(
            f"FAIL {shown}: metadata.kernelspec.name is {spec!r}, expected {KERNEL_NAME!r} "
            f"(open it in JupyterLab, Kernel > Change Kernel > 'TypeScript (sgdl-kit)', and save)",
            flush=True,
        )
        return False
    client = StrictClient(
        nb,
        timeout=timeout,
        startup_timeout=startup_timeout,
        kernel_name=KERNEL_NAME,
        allow_errors=False,
        force_raise_errors=True,
        record_timing=True,
        resources={"metadata": {"path": str(ROOT)}},
    )
    failure: CellFailure | None = None
    try:
        asyncio.run(run_cells(client, settle))
    except CellFailure as f:
        failure = f
    except (RuntimeError, TimeoutError) as e:  # the kernel did not start (its own stderr is above)
        failure = CellFailure(-1, "", f"{type(e).__name__}: {e}", "")
    except Exception as e:
        failure = CellFailure(-1, "", f"{type(e).__name__}: {e}", "", traceback.format_exc())
    elapsed = time.monotonic() - started
    out = output_path(nb_path, inplace)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, out)
    if failure is None:
        print(f"PASS {shown} ({elapsed:.1f} s) -> {os.path.relpath(out, Path.cwd())}", flush=True)
        return True
    where = f"cell {failure.index}" if failure.index >= 0 else "kernel"
    print(f"FAIL {shown} ({elapsed:.1f} s), {where}: {failure.reason}", flush=True)
    if failure.index >= 0:
        print("  source:\n" + indent(failure.source), flush=True)
    print("  stderr:\n" + indent(failure.stderr), flush=True)
    if failure.traceback_text.strip():
        print("  traceback:\n" + indent(failure.traceback_text), flush=True)
    print(f"  executed copy: {os.path.relpath(out, Path.cwd())}", flush=True)
    return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Run notebooks headless with the sgdl-tslab kernel.")
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: notebooks/*.ipynb)")
    parser.add_argument(
        "--timeout",
        type=int,
        default=int(os.environ.get("SGDL_CELL_TIMEOUT", "900")),
        help="seconds per cell (env SGDL_CELL_TIMEOUT, default 900)",
    )
    parser.add_argument("--startup-timeout", type=int, default=120, help="seconds for the kernel to start (default 120)")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds to wait for late stderr after the last cell")
    parser.add_argument("--inplace", action="store_true", help="save executed notebooks over the originals")
    args = parser.parse_args(argv)

    os.environ.setdefault("SGDL_PRESET", "quick")
    paths = [Path(p) for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        print("no notebooks found under notebooks/")
    print(f"running {len(paths)} notebook(s), kernel {KERNEL_NAME}, SGDL_PRESET={os.environ['SGDL_PRESET']}, timeout {args.timeout} s/cell", flush=True)
    passed = failed = 0
    for p in paths:
        if not p.is_file():
            print(f"FAIL {p}: no such file", flush=True)
            failed += 1
        elif run_notebook(p, args.timeout, args.startup_timeout, args.settle, args.inplace):
            passed += 1
        else:
            failed += 1
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
