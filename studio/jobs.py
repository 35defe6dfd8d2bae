"""A SQLite job store: training and DPO runs as their own processes, in a FIFO queue.

Why a store and not a streaming function of the page: a job tied to a page request dies with
the tab (fluxgym's lesson). Here a job is a row in SQLite and a process in its own session:

    store = JobStore("runs/jobs.sqlite")
    job = store.submit("train", config_yaml_text, output_dir="runs/train-1")
    store.status(job)          # "queued" | "running" | "stopping" | "finished" | "failed" | "stopped"
    store.logs(job)            # tail of stdout+stderr, progress-bar redraws collapsed
    store.progress(job)        # last "progress" of output_dir/metrics.jsonl, in [0, 1]
    store.stop(job)            # output_dir/STOP, a grace period, then the process group is killed
    store.warnings(job)        # why a finished run did not learn (output_dir/warnings.json)

One job runs at a time (one GPU); later ones wait in submission order. A new JobStore on the
same file (a page reload, an app restart) finds every job again: a running job is re-attached
by its pid (checked against the process start time, so a recycled pid is not mistaken for it);
one whose process is gone is marked finished or failed from its exit-code file.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from edithf.runs import METRICS_NAME, read_metrics, read_progress, read_warnings
from edithf.utils.io import atomic_write_text

ACTIVE = ("running", "stopping")  # later states: finished, failed, stopped; before: queued
STOP_GRACE_S = 20.0   # a trainer saves a checkpoint before it honours STOP
KILL_AFTER_TERM_S = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    output_dir TEXT NOT NULL,
    config_path TEXT NOT NULL,
    log_path TEXT NOT NULL,
    command TEXT,
    pid INTEGER,
    pid_start TEXT,
    returncode INTEGER,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    stop_requested REAL,
    message TEXT
)
"""

CommandFactory = Callable[[str, Path], Sequence[str]]


def default_command(kind: str, config_path: Path) -> list[str]:
    """`edithf train CONFIG.yaml` / `edithf dpo CONFIG.yaml` with this interpreter."""
    return [sys.executable, "-m", "edithf.cli", kind, str(config_path)]


def _process_start(pid: int) -> str | None:
    """Start time of a process (field 22 of /proc/PID/stat), None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None if not _pid_alive(pid) else "?"
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputDirInUse(ValueError):
    """A second queued or running job would write into the same output folder."""


def collapse_redraws(text: str) -> str:
    """A progress bar redraws its line with "\r": keep each line's last state only."""
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))


class JobStore:
    """Jobs in one SQLite file; see the module docstring."""

    def __init__(
        self,
        db_path: str | os.PathLike,
        command: CommandFactory = default_command,
        stop_grace_s: float = STOP_GRACE_S,
        monitor_interval_s: float | None = 1.0,
    ):
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.command = command
        self.stop_grace_s = stop_grace_s
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.RLock()
        with self._connect() as db:
            db.execute(_SCHEMA)
        self.refresh()
        self._closed = threading.Event()
        if monitor_interval_s:
            # Advances the queue and the stop protocol even when no page is open.
            threading.Thread(target=self._monitor, args=(monitor_interval_s,), daemon=True).start()

    # -- storage ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def _update(self, job_id: int, **values) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._connect() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values.values(), job_id))

    def get(self, job_id: int) -> dict:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
        if row is None:
            raise KeyError(f"no job with id {job_id} in {self.db_path}")
        return dict(row)

    def list(self) -> list[dict]:
        with self._connect() as db:
            return [dict(r) for r in db.execute("SELECT * FROM jobs ORDER BY id DESC")]

    # -- public API ------------------------------------------------------------------------
    def submit(self, kind: str, config_yaml: str, output_dir: str | os.PathLike, name: str | None = None) -> int:
        """Queue a job; it starts at once when nothing else runs. Returns the job id.
        Raises OutputDirInUse when a queued or running job already writes into `output_dir`."""
        out = Path(output_dir).resolve()
        with self._lock:
            self._refuse_shared_output(out)
            return self._insert(kind, config_yaml, out, name)

    def _refuse_shared_output(self, out: Path) -> None:
        for job in self.list():
            if job["status"] in ("queued", *ACTIVE) and Path(job["output_dir"]) == out:
                raise OutputDirInUse(f"job #{job['id']} ({job['status']}) already writes into {out}: pick another "
                                     "output_dir (or leave it at its default for a fresh folder), or stop that job")

    def _insert(self, kind: str, config_yaml: str, out: Path, name: str | None) -> int:
        if (out / "STOP").exists():
            (out / "STOP").unlink()  # a leftover flag would stop the new run at its first step
        job_dir = out / ".studio"
        job_dir.mkdir(parents=True, exist_ok=True)
        config_path = atomic_write_text(job_dir / f"{kind}.yaml", config_yaml)
        with self._lock, self._connect() as db:
            cur = db.execute(
                "INSERT INTO jobs (kind, name, status, output_dir, config_path, log_path, created) "
                "VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                (kind, name or out.name, str(out), str(config_path), str(job_dir / "log.txt"), time.time()),
            )
            job_id = int(cur.lastrowid)
        self.refresh()
        return job_id

    def status(self, job_id: int) -> str:
        return self.get(job_id)["status"]

    def queue_position(self, job_id: int) -> int:
        """0 for a job that is not waiting; 1 for the next one to start, and so on."""
        with self._connect() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY id")]
        return ids.index(job_id) + 1 if job_id in ids else 0

    def logs(self, job_id: int, max_chars: int = 20_000, max_lines: int | None = None) -> str:
        """The end of the job's log (at most `max_chars` read, then `max_lines` kept), with
        progress-bar redraws collapsed to their last state."""
        path = Path(self.get(job_id)["log_path"])
        if not path.exists():
            return ""
        with path.open("rb") as f:
            start = max(0, path.stat().st_size - max_chars)
            f.seek(start)
            text = f.read().decode("utf-8", errors="replace")
        if start:
            text = text.split("\n", 1)[-1]  # the first line read is cut: drop it
        lines = collapse_redraws(text).rstrip("\n").split("\n")
        return "\n".join(lines[-max_lines:] if max_lines else lines)

    def warnings(self, job_id: int) -> list[str]:
        """Why a finished run did not learn (edithf.runs.read_warnings of its folder); [] if it did."""
        return read_warnings(self.get(job_id)["output_dir"])

    def metrics(self, job_id: int) -> list[dict]:
        return read_metrics(Path(self.get(job_id)["output_dir"]) / METRICS_NAME)

    def progress(self, job_id: int) -> float:
        job = self.get(job_id)
        if job["status"] == "finished":
            return 1.0
        return read_progress(Path(job["output_dir"]) / METRICS_NAME)

    def stop(self, job_id: int) -> str:
        """Cooperative stop: a queued job is dropped ("stopped"); a running one gets
        output_dir/STOP ("stopping") and, after the grace period, SIGTERM then SIGKILL to its
        process group. Returns the status the request set (or the unchanged one)."""
        with self._lock:
            job = self.get(job_id)
            if job["status"] == "queued":
                self._update(job_id, status="stopped", ended=time.time(), message="removed from the queue")
                return "stopped"
            if job["status"] == "running":
                atomic_write_text(Path(job["output_dir"]) / "STOP", "stop requested from the studio\n")
                self._update(job_id, status="stopping", stop_requested=time.time())
                return "stopping"
            return job["status"]

    def close(self) -> None:
        self._closed.set()

    # -- the state machine -----------------------------------------------------------------
    def refresh(self) -> None:
        """Reap ended processes, escalate overdue stops, start the next queued job."""
        with self._lock:
            for job in [j for j in self.list() if j["status"] in ACTIVE]:
                self._check_active(job)
            with self._connect() as db:
                busy = db.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('running', 'stopping')").fetchone()[0]
                nxt = db.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1").fetchone()
            if not busy and nxt is not None and self._claim(nxt[0]):
                self._start(self.get(nxt[0]))

    def _claim(self, job_id: int) -> bool:
        """Another app on the same file may be refreshing too: only one of them starts a job."""
        with self._connect() as db:
            cur = db.execute("UPDATE jobs SET status = 'running' WHERE id = ? AND status = 'queued'", (job_id,))
        return cur.rowcount == 1

    def _monitor(self, interval: float) -> None:
        while not self._closed.wait(interval):
            try:
                self.refresh()
            except sqlite3.Error:
                continue  # a locked database now is fine on the next tick

    def _start(self, job: dict) -> None:
        cmd = [str(c) for c in self.command(job["kind"], Path(job["config_path"]))]
        exit_file = Path(job["log_path"]).with_name("exitcode")
        exit_file.unlink(missing_ok=True)
        # The shell records the exit code in a file, so an app started later still knows
        # how a job ended; `exec`-less on purpose: the shell must outlive the command.
        wrapper = ["/bin/sh", "-c", '"$@"; echo $? > "$0"', str(exit_file), *cmd]
        log = open(job["log_path"], "ab")
        try:
            proc = subprocess.Popen(
                wrapper, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        except OSError as exc:
            self._update(job["id"], status="failed", ended=time.time(), message=f"could not start: {exc}")
            return
        finally:
            log.close()
        self._children[proc.pid] = proc
        self._update(
            job["id"], status="running", pid=proc.pid, pid_start=_process_start(proc.pid),
            started=time.time(), command=json.dumps(cmd),
        )

    def _alive(self, job: dict) -> bool:
        pid = job["pid"]
        if pid is None:
            return False
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        start = _process_start(pid)  # not our child: started by an earlier app
        return start is not None and (job["pid_start"] in (None, "?") or start == job["pid_start"])

    def _check_active(self, job: dict) -> None:
        if job["pid"] is None:
            return  # claimed a moment ago, its process is being started
        if not self._alive(job):
            self._finish(job)
            return
        if job["status"] == "stopping" and job["stop_requested"]:
            waited = time.time() - job["stop_requested"]
            if waited > self.stop_grace_s + KILL_AFTER_TERM_S:
                self._signal(job["pid"], signal.SIGKILL)
            elif waited > self.stop_grace_s:
                self._signal(job["pid"], signal.SIGTERM)

    @staticmethod
    def _signal(pid: int, sig: int) -> None:
        try:
            os.killpg(pid, sig)  # the job is its own session: this reaches its children too
        except (ProcessLookupError, PermissionError):
            pass

    def _finish(self, job: dict) -> None:
        child = self._children.pop(job["pid"], None) if job["pid"] else None
        code = child.returncode if child is not None else None
        exit_file = Path(job["log_path"]).with_name("exitcode")
        if exit_file.exists():
            try:
                code = int(exit_file.read_text().strip())
            except ValueError:
                pass
        if job["status"] == "stopping":
            status, message = "stopped", "stopped on request"
        elif code == 0:
            status, message = "finished", "exited with code 0"
        else:
            status = "failed"
            message = f"exited with code {code}" if code is not None else "the process ended without an exit code"
        self._update(job["id"], status=status, returncode=code, ended=time.time(), message=message)
