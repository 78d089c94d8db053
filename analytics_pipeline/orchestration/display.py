"""What `make run` shows a person, read from Dagster's event log (never from printed text).

A :class:`RunDisplay` polls the run's records in the instance's event log storage (the same
records the UI shows, written by whichever process ran the step: in-process, multiprocess,
Celery or Kubernetes) and prints

- one line per asset as its step finishes: group, asset, rows, seconds, checks passed/failed;
  a failed step as one line with the first line of its error; a check-only step only when a
  check failed (its passes are counted in the summary);
- a live progress line for a step running longer than a few seconds: the step's latest log
  message (an extraction logs its endpoint, pages, rows and rows/s), rewritten in place on a
  terminal, printed every ``PROGRESS_EVERY_SECONDS`` otherwise;
- the closing summary (:meth:`RunDisplay.summary`): run id, duration, rows per table, failed
  steps with the first line of their error and the asset's file, failed checks with their
  description, the analyst report, the full event log and the UI link.

Every record is also appended to the run's event log file (``RUN_LOGS_DIR``), failures with
their full stack trace, so nothing the quiet display leaves out is lost.
"""
from __future__ import annotations

import inspect
import shutil
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import dagster as dg
from dagster import DagsterEventType as T

from analytics_pipeline.settings import PROJECT_ROOT, env

#: Materialization metadata holding an asset's row count, first found wins (assets differ).
ROW_KEYS = ("dagster/row_count", "rows", "row_count", "ledger_rows", "rows_deleted_total", "rows_removed_total")
#: Materialization metadata holding the path of a written file (the analyst report).
PATH_KEY = "path"
PROGRESS_AFTER_SECONDS = 3.0
PROGRESS_EVERY_SECONDS = 60.0
POLL_SECONDS = 0.5
STEP_LINE_WIDTH = 160  # a failed step's line; the summary has its error's whole first line
_ENDED = {T.RUN_SUCCESS, T.RUN_FAILURE, T.RUN_CANCELED}


@dataclass(frozen=True)
class StepInfo:
    """What the display knows of a step before it runs: its group, assets and source file."""

    group: str
    assets: tuple[str, ...]
    source: str  # "analytics_pipeline/assets/sources.py:86"
    checks_only: bool = False


def _source_of(assets_def) -> str:
    try:
        fn = assets_def.op.compute_fn.decorated_fn
        path, line = Path(inspect.getsourcefile(fn)), inspect.getsourcelines(fn)[1]
    except (AttributeError, TypeError, OSError):
        return "?"
    try:
        path = path.resolve().relative_to(PROJECT_ROOT)
    except ValueError:
        pass
    return f"{path}:{line}"


def describe_steps(repository: dg.RepositoryDefinition) -> tuple[dict[str, StepInfo], dict[tuple[str, str], str]]:
    """(step key -> StepInfo, (asset, check) -> check description) of a code location."""
    graph = repository.asset_graph
    steps: dict[str, StepInfo] = {}
    for assets_def in graph.assets_defs:
        if not assets_def.is_executable:
            continue
        keys = tuple(sorted(assets_def.keys))
        checks_only = not keys
        if checks_only:
            keys = tuple(sorted({check.asset_key for check in assets_def.check_keys}))
        groups = {graph.get(key).group_name for key in keys if graph.has(key)} or {"-"}
        steps[assets_def.node_def.name] = StepInfo(
            group=sorted(groups)[0], assets=tuple(key.to_user_string() for key in keys),
            source=_source_of(assets_def), checks_only=checks_only,
        )
    checks = {
        (key.asset_key.to_user_string(), key.name): graph.get_check_spec(key).description or ""
        for key in graph.asset_check_keys
    }
    return steps, checks


def first_line(error) -> str:
    """The first line of the innermost cause of a SerializableErrorInfo ('KeyError: ...')."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    message = (error.message or "").strip()
    line = message.splitlines()[0] if message else error.cls_name or "error"
    head, separator, rest = line.partition(": ")
    if separator and head.rsplit(".", 1)[-1] == error.cls_name:  # "package.module.Error: ..." -> "Error: ..."
        return f"{error.cls_name}: {rest}"
    if error.cls_name and not line.startswith(error.cls_name):
        line = f"{error.cls_name}: {line}"
    return line


def _rows(metadata) -> int | None:
    for key in ROW_KEYS:
        value = metadata.get(key)
        value = getattr(value, "value", value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return None


def _stamp(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%H:%M:%S")


@dataclass
class _Step:
    started: float | None = None
    ended: bool = False
    seconds: float | None = None
    assets: list[tuple[str, int | None]] = field(default_factory=list)
    checks: list[tuple[str, str, bool]] = field(default_factory=list)  # (asset, check, passed)
    last_message: str = ""
    last_progress: float = 0.0


@dataclass(frozen=True)
class FailedStep:
    step: str
    group: str
    assets: tuple[str, ...]
    error: str
    source: str


class RunDisplay:
    """Follows one run in the event log and prints it for a person (see the module docstring)."""

    def __init__(self, instance: dg.DagsterInstance, steps: dict[str, StepInfo], check_descriptions: dict,
                 log_dir: Path, out: TextIO | None = None, quiet: bool = False):
        self.instance, self.steps, self.check_descriptions = instance, steps, check_descriptions
        self.log_dir, self.out, self.quiet = Path(log_dir), out or sys.stdout, quiet
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self.run_id: str | None = None
        self.log_path: Path | None = None
        self.cursor: str | None = None
        self.state: dict[str, _Step] = defaultdict(_Step)
        self.failed: list[FailedStep] = []
        self.failed_checks: list[tuple[str, str, str]] = []  # (asset, check, description)
        self.checks_passed = 0
        self.planned: set[str] = set()
        self.materialized = 0
        self.report_path: str | None = None
        self.run_error: str | None = None
        self.run_started: float | None = None
        self.run_ended: float | None = None
        self.status: str | None = None
        self._progress_shown = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = None

    # -- following the run ---------------------------------------------------------------
    def follow(self, run_id: str) -> None:
        self.run_id = run_id
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"run-{run_id}.log"
        self._log = self.log_path.open("a", encoding="utf-8")

    def start(self, find_run) -> None:
        """Poll in a thread; ``find_run()`` returns the run id once the run exists (else None)."""
        def loop():
            while not self._stop.is_set():
                if self.run_id is None:
                    run_id = find_run()
                    if run_id:
                        self.follow(run_id)
                if self.run_id is not None:
                    self.poll()
                self._stop.wait(POLL_SECONDS)

        self._thread = threading.Thread(target=loop, name="run-display", daemon=True)
        self._thread.start()

    def finish(self, run_id: str | None, timeout: float = 30.0) -> None:
        """Stop the thread, then read the rest of the run's records (until its end event)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if run_id is None:
            return
        if self.run_id is None:
            self.follow(run_id)
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if self.status is not None or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
        self._clear_progress()
        if self._log is not None:
            self._log.close()
            self._log = None

    def poll(self) -> None:
        with self._lock:
            while True:
                connection = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, limit=1000)
                for record in connection.records:
                    self._handle(record.event_log_entry)
                self.cursor = connection.cursor
                if not connection.has_more:
                    break
            self._progress()

    # -- one record ----------------------------------------------------------------------
    def _handle(self, entry) -> None:
        self._write_log(entry)
        step = entry.step_key
        if not entry.is_dagster_event:
            if step:
                self.state[step].last_message = entry.user_message
            return
        event = entry.get_dagster_event()
        kind = event.event_type
        if kind == T.RUN_START:
            self.run_started = entry.timestamp
        elif kind in _ENDED:
            self.run_ended = entry.timestamp
            self.status = {T.RUN_SUCCESS: "succeeded", T.RUN_FAILURE: "failed", T.RUN_CANCELED: "canceled"}[kind]
            data = event.event_specific_data
            if getattr(data, "error", None) is not None:
                self.run_error = first_line(data.error)
        elif kind == T.STEP_START:
            self.state[step].started = entry.timestamp
        elif kind == T.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            self.materialized += 1
            self.state[step].assets.append((materialization.asset_key.to_user_string(), _rows(materialization.metadata)))
            path = materialization.metadata.get(PATH_KEY)
            if path is not None:
                self.report_path = str(getattr(path, "value", path))
        elif kind == T.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            asset = data.asset_key.to_user_string()
            self.state[step].checks.append((asset, data.check_name, data.passed))
            if data.passed:
                self.checks_passed += 1
            else:
                description = data.description or self.check_descriptions.get((asset, data.check_name), "")
                self.failed_checks.append((asset, data.check_name, description))
        elif kind == T.STEP_SUCCESS:
            self._step_ended(step, event.event_specific_data.duration_ms / 1000, entry.timestamp)
        elif kind == T.STEP_FAILURE:
            info = self.steps.get(step, StepInfo("-", (step,), "?"))
            self.failed.append(FailedStep(step, info.group, info.assets, first_line(event.event_specific_data.error), info.source))
            self._step_ended(step, None, entry.timestamp)
        elif kind in (T.ASSET_MATERIALIZATION_PLANNED, T.ASSET_CHECK_EVALUATION_PLANNED) and step:
            self.planned.add(step)

    @property
    def not_run(self) -> list[str]:
        """Planned steps that never started (upstream failed: Dagster abandons or skips them)."""
        return sorted(step for step in self.planned if self.state[step].started is None) if self.status else []

    def _step_ended(self, step: str, seconds: float | None, timestamp: float) -> None:
        state = self.state[step]
        state.ended = True
        if seconds is None and state.started is not None:
            seconds = timestamp - state.started
        state.seconds = seconds
        if not self.quiet:
            for line in self.step_lines(step):
                self._print(line)

    def step_lines(self, step: str) -> list[str]:
        """The display lines of a finished step (none for a check-only step whose checks passed)."""
        state, info = self.state[step], self.steps.get(step, StepInfo("-", (step,), "?"))
        seconds = f"{state.seconds:6.1f} s" if state.seconds is not None else "       "
        failure = next((f for f in self.failed if f.step == step), None)
        if failure is not None:
            line = f"  FAILED {info.group:17} {', '.join(info.assets):32} {seconds}  {failure.error}"
            return [line if len(line) <= STEP_LINE_WIDTH else line[:STEP_LINE_WIDTH - 1] + "…"]
        lines = []
        for asset, rows in state.assets:
            checks = [c for c in state.checks if c[0] == asset]
            lines.append(f"  {info.group:24} {asset:32} {rows if rows is not None else '-':>9} rows {seconds}"
                         f"{_checks_text(checks)}")
        if not state.assets:
            failed = [c for c in state.checks if not c[2]]
            for asset, check, _ in failed:
                lines.append(f"  CHECK  {info.group:17} {asset:32} {check} failed")
        return lines

    # -- progress --------------------------------------------------------------------------
    def _progress(self) -> None:
        if self.quiet:
            return
        now = time.time()
        running = [(step, s) for step, s in self.state.items()
                   if s.started is not None and not s.ended and now - s.started >= PROGRESS_AFTER_SECONDS]
        if not running:
            self._clear_progress()
            return
        if self.tty:
            step, state = max(running, key=lambda item: item[1].started)
            text = f"  ... {step} {now - state.started:.0f} s: {state.last_message or 'running'}"
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.out.write("\r\033[K" + text[:width])
            self.out.flush()
            self._progress_shown = True
            return
        for step, state in running:
            if now - max(state.started, state.last_progress) >= PROGRESS_EVERY_SECONDS:
                state.last_progress = now
                self._print(f"  ... {step} running {now - state.started:.0f} s: {state.last_message or 'no log yet'}")

    def _clear_progress(self) -> None:
        if self._progress_shown:
            self.out.write("\r\033[K")
            self.out.flush()
            self._progress_shown = False

    def _print(self, line: str) -> None:
        self._clear_progress()
        print(line, file=self.out, flush=True)

    # -- the full event log ------------------------------------------------------------------
    def _write_log(self, entry) -> None:
        if self._log is None:
            return
        if entry.is_dagster_event:
            event = entry.get_dagster_event()
            text = f"{event.event_type_value} {event.message or ''}".rstrip()
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                text += "\n" + error.to_string().rstrip()
        else:
            text = entry.user_message
        level = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}.get(entry.level, str(entry.level))
        self._log.write(f"{_stamp(entry.timestamp)} {level:7} {entry.step_key or '-'} {text}\n")
        self._log.flush()

    # -- the closing summary --------------------------------------------------------------------
    def summary(self, job: str, partition: str | None, row_counts: dict[str, int | None], width: int = 120) -> list[str]:
        duration = (self.run_ended - self.run_started) if self.run_started and self.run_ended else None
        status = self.status or "did not finish"
        lines = ["", f"Run {self.run_id} ({job}, {partition or 'unpartitioned'}) {status}"
                     + (f" in {duration:.1f} s" if duration is not None else "")
                     + f": {self.materialized} assets materialized, checks {self.checks_passed} passed, "
                     f"{len(self.failed_checks)} failed."]
        if self.run_error and not self.failed:
            lines.append(f"  run error: {self.run_error}")
        for failure in self.failed:
            lines.append(f"  failed step {failure.step} ({failure.group}: {', '.join(failure.assets)}): {failure.error}")
            lines.append(f"    code: {failure.source}")
        if self.not_run:
            lines.append(wrapped(f"  not run (upstream failed): {len(self.not_run)} steps: ", self.not_run, width))
        for asset, check, description in self.failed_checks:
            lines.append(f"  failed check {asset}.{check}: {description or '(no description)'}")
        counts = [f"{table} {count:,}" for table, count in row_counts.items() if count is not None]
        if counts:
            lines.append(wrapped("Rows: ", counts, width, separator=" · "))
        if self.report_path:
            lines.append(f"Analyst report: {_relative(self.report_path)}")
        if self.log_path is not None:
            lines.append(f"Full event log: {_relative(self.log_path)}")
        if self.run_id:
            lines.append(f"In the UI: {env('DAGSTER_UI_URL').rstrip('/')}/runs/{self.run_id} (start it with `make ui`)")
        return lines


def _checks_text(checks: list[tuple[str, str, bool]]) -> str:
    if not checks:
        return ""
    passed = sum(1 for c in checks if c[2])
    failed = [c[1] for c in checks if not c[2]]
    return f"  checks {passed}/{len(checks)}" + (f" FAILED: {', '.join(failed)}" if failed else "")


def wrapped(head: str, items: list[str], width: int, separator: str = ", ") -> str:
    """``head`` then ``items`` joined, wrapped at ``width`` with continuation lines indented."""
    lines, current = [], head
    for item in items:
        piece = item if current in (head, "  ") else separator + item
        if len(current) + len(piece) > width and current not in (head, "  "):
            lines.append(current)
            current, piece = "  ", item
        current += piece
    lines.append(current)
    return "\n".join(lines)


def _relative(path) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
