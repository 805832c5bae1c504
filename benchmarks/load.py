"""Load: 50 candidates at once against the product's own processes, then one flooding.

Starts the Procfile's `web` process (gunicorn) and `worker` processes (RQ, the Docker sandbox)
on a fresh SQLite database and a queue of its own, makes an assessment of the ten shipped
challenges with an invite per simulated candidate, and drives the candidate JSON API over HTTP
as the pages do (a page load for the CSRF cookie and token, then start, run, submit, poll):

1. **50 candidates**, each on one challenge (the ten in turn): a visible run of the reference
   solution, then a submission of it, each polled to its report. With 1 worker, then 2.
   Prints p50/p95 submit-to-report, p95 run latency, grades per minute and the 2/1 ratio.
2. **A flood**: one candidate sends runs and submits across all ten challenges as fast as the
   server accepts them (retrying after each 429's Retry-After) while an honest candidate makes
   a visible run every few seconds. Prints each honest run's wait (queued to started) against
   what the job being graded when it was queued still had to go: with the front queue, an
   honest run waits for that one job and no more.

    python benchmarks/load.py [--candidates 50] [--workers 1 2] [--write docs/benchmarks.md]

Run it on an otherwise idle machine: the figures are the machine's 2 cores under load.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from markdown_sections import replace_section  # noqa: E402

from grader.spec import discover_challenges, load_challenge  # noqa: E402

HEADING = "## Load: 50 candidates, and one flooding"
POLL_SECONDS = 0.5
TURNAROUND_SECONDS = 1.0
INTERPRETATION = (
    "Two workers on a 2-core machine grade side by side on the same cores (each grade runs a "
    "judge, a fork server and candidate hosts), so throughput rises less than 2x; workers on "
    "more cores or more hosts add more. The flood is held to 2 jobs in flight and 10 a minute "
    "by the fairness caps, and the honest candidate's only job goes on the front queue."
)
FINISHED = {"graded", "timeout", "oom", "error", "rejected", "infra_error"}


def procfile_command(name: str) -> str:
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"the Procfile has no {name!r} process")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    """The product's processes on a database and queue of the benchmark's own."""

    env: dict[str, str]
    base_url: str
    processes: list[subprocess.Popen]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def prepare_database(env: dict[str, str], candidates: int) -> list[str]:
    """Migrate, sync the library, and make the assessment and invites; returns the tokens."""
    os.environ.update(env)
    from app import create_app
    from app.extensions import db
    from app.services.library import current_versions, sync_library
    from app.services.review import create_assessment, create_invite
    from app.services.users import create_user

    app = create_app()
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(REPO / "migrations"))
        sync_library(app.config["CHALLENGES_DIR"])
        owner = create_user("load@example.com", "Load", "interviewer", uuid.uuid4().hex)
        versions = current_versions()
        assessment = create_assessment("Load", 600, versions, owner)
        tokens = [
            create_invite(assessment, f"Candidate {n}", None).token for n in range(candidates)
        ]
        db.session.remove()
    return tokens


def start_stack(env: dict[str, str], port: int, workers: int) -> Stack:
    shell_env = {**os.environ, **env, "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}"}
    web = procfile_command("web")
    processes = [
        subprocess.Popen(
            ["bash", "-c", f"exec {web}"],
            cwd=REPO,
            env={**shell_env, "HOST": "127.0.0.1", "PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for _ in range(workers):
        processes.append(
            subprocess.Popen(
                ["bash", "-c", f"exec {procfile_command('worker')}"],
                cwd=REPO,
                env=shell_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    stack = Stack(env, f"http://127.0.0.1:{port}", processes)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(stack.base_url + "/", timeout=2).status_code < 500:
                return stack
        except requests.RequestException:
            time.sleep(0.3)
    stack.stop()
    raise SystemExit("the web process did not answer within 60 s")


class Candidate:
    """One candidate's browser: the invite page's cookie and CSRF token, then the API."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.api = f"{base_url}/api/v1/invites/{token}"
        self.session = requests.Session()
        page = self.session.get(f"{base_url}/i/{token}", timeout=30).text
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        if not match:
            raise RuntimeError("the invite page carries no CSRF token")
        self.session.headers["X-CSRFToken"] = match.group(1)
        self.session.post(f"{self.api}/start", timeout=30).raise_for_status()

    def send(self, slug: str, files: dict[str, str], mode: str) -> requests.Response:
        return self.session.post(
            f"{self.api}/challenges/{slug}/submissions",
            json={"files": files, "mode": mode},
            timeout=30,
        )

    def grade(self, slug: str, files: dict[str, str], mode: str) -> int:
        """Send (after each 429, again when its Retry-After says) and poll to the report;
        returns the submission's id."""
        while True:
            response = self.send(slug, files, mode)
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))
        response.raise_for_status()
        submission = response.json()
        while submission["status"] not in FINISHED:
            time.sleep(POLL_SECONDS)
            submission = self.session.get(self.base_url + submission["status_url"], timeout=30)
            submission = submission.json()
        return submission["id"]


@dataclass
class Timing:
    mode: str
    status: str
    waited: float  # queued to started
    graded: float  # started to finished
    total: float  # queued to finished
    created: datetime
    started: datetime
    finished: datetime


def timings(ids: list[int]) -> list[Timing]:
    from app import create_app
    from app.extensions import db
    from app.models import Submission

    with create_app().app_context():
        rows = [db.session.get(Submission, i) for i in ids]
        result = [
            Timing(
                mode=row.mode,
                status=row.status,
                waited=(row.started_at - row.created_at).total_seconds(),
                graded=(row.finished_at - row.started_at).total_seconds(),
                total=(row.finished_at - row.created_at).total_seconds(),
                created=row.created_at,
                started=row.started_at,
                finished=row.finished_at,
            )
            for row in rows
            if row.started_at and row.finished_at
        ]
        db.session.remove()
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def many_candidates(stack: Stack, tokens: list[str], fixes: dict[str, dict[str, str]]) -> dict:
    """Every candidate at once: a visible run of the reference, then a submission of it."""
    slugs = sorted(fixes)
    ids: list[int] = []
    problems: list[str] = []
    lock = threading.Lock()

    def candidate(number: int, token: str) -> None:
        slug = slugs[number % len(slugs)]
        try:
            browser = Candidate(stack.base_url, token)
            for mode in ("run", "submit"):
                submission_id = browser.grade(slug, fixes[slug], mode)
                with lock:
                    ids.append(submission_id)
        except (requests.RequestException, RuntimeError) as exc:
            with lock:
                problems.append(f"candidate {number}: {exc}")

    threads = [
        threading.Thread(target=candidate, args=(n, token)) for n, token in enumerate(tokens)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    measured = timings(ids)
    runs = [t.total for t in measured if t.mode == "run"]
    submits = [t.total for t in measured if t.mode == "submit"]
    span = (max(t.finished for t in measured) - min(t.created for t in measured)).total_seconds()
    return {
        "grades": len(measured),
        "not_graded": sum(t.status != "graded" for t in measured),
        "problems": problems,
        "submit_p50": percentile(submits, 0.5),
        "submit_p95": percentile(submits, 0.95),
        "run_p95": percentile(runs, 0.95),
        "per_minute": len(measured) / (span / 60),
        "span": span,
    }


def flood(stack: Stack, flooder: str, honest: str, fixes: dict[str, dict[str, str]]) -> dict:
    """One candidate sends everything the server accepts; another makes visible runs."""
    slugs = sorted(fixes)
    flood_ids: list[int] = []
    honest_ids: list[int] = []
    stop = threading.Event()

    def flooding() -> None:
        browser = Candidate(stack.base_url, flooder)
        turn = 0
        while not stop.is_set():
            slug, mode = slugs[turn % len(slugs)], ("run", "submit")[(turn // len(slugs)) % 2]
            turn += 1
            response = browser.send(slug, fixes[slug], mode)
            if response.status_code == 202:
                flood_ids.append(response.json()["id"])
            elif response.status_code == 429:
                stop.wait(float(response.headers.get("Retry-After", "1")))
            else:  # 409: this challenge's run or submission is still being graded
                stop.wait(0.2)

    thread = threading.Thread(target=flooding)
    thread.start()
    try:
        browser = Candidate(stack.base_url, honest)
        time.sleep(5)  # the flood has filled its share of the queue
        slug = slugs[0]
        for _ in range(5):
            honest_ids.append(browser.grade(slug, fixes[slug], "run"))
            time.sleep(3)
    finally:
        stop.set()
        thread.join()
    honest_runs = timings(honest_ids)
    flooded = timings(flood_ids)
    return {
        "flood_jobs": len(flood_ids),
        "honest": [(run.waited, _ahead(run, flooded)) for run in honest_runs],
        "median_job": statistics.median(t.graded for t in flooded),
        "longest_job": max(t.graded for t in flooded),
    }


def _ahead(run: Timing, others: list[Timing]) -> float:
    """How long the job being graded when ``run`` was queued still had to go (0 if none)."""
    left = [
        (other.finished - run.created).total_seconds()
        for other in others
        if other.started <= run.created < other.finished
    ]
    return max(left, default=0.0)


def reference_fixes() -> dict[str, dict[str, str]]:
    fixes = {}
    for folder in discover_challenges(REPO / "challenges"):
        challenge = load_challenge(folder)
        fixes[challenge.id] = {path: str(text) for path, text in challenge.solution.items()}
    return fixes


@contextmanager
def running(env: dict[str, str], workers: int):
    stack = start_stack(env, free_port(), workers)
    try:
        yield stack
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--write", type=Path, help="put the figures in this Markdown file")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="faultline-load-"))
    queue = f"load-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": f"sqlite:///{scratch / 'load.db'}",
        "FAULTLINE_QUEUE": queue,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SECRET_KEY": uuid.uuid4().hex,
    }
    fixes = reference_fixes()
    tokens = prepare_database(env, args.candidates * len(args.workers) + 2)
    lines = [f"{args.candidates} candidates, each a visible run then a submission of a fix:"]
    rates = {}
    for index, workers in enumerate(args.workers):
        batch = tokens[index * args.candidates : (index + 1) * args.candidates]
        print(f"… {args.candidates} candidates, {workers} worker(s)", file=sys.stderr)
        with running(env, workers) as stack:
            figures = many_candidates(stack, batch, fixes)
        rates[workers] = figures["per_minute"]
        lines.append(
            f"  {workers} worker(s): {figures['grades']} grades in {figures['span']:.0f} s, "
            f"{figures['per_minute']:.1f} grades/min; submit to report p50 "
            f"{figures['submit_p50']:.1f} s, p95 {figures['submit_p95']:.1f} s; "
            f"visible run p95 {figures['run_p95']:.1f} s; not graded: {figures['not_graded']}"
        )
        lines.extend(f"    problem: {problem}" for problem in figures["problems"][:5])
    if 1 in rates and 2 in rates:
        lines.append(f"  throughput with 2 workers / with 1: {rates[2] / rates[1]:.2f}")
    print("… one candidate flooding, one honest, 1 worker", file=sys.stderr)
    with running(env, 1) as stack:
        flooded = flood(stack, tokens[-2], tokens[-1], fixes)
    # An honest run starts within one job: once the job being graded when it was queued is
    # done, plus the worker's turn-around (taking the next job off the queue), at most 1 s.
    late = [(wait, ahead) for wait, ahead in flooded["honest"] if wait > ahead + TURNAROUND_SECONDS]
    lines += [
        f"flood: one candidate had {flooded['flood_jobs']} jobs accepted (its jobs took "
        f"{flooded['median_job']:.1f} s median, {flooded['longest_job']:.1f} s longest); the "
        f"honest candidate's {len(flooded['honest'])} visible runs, each: waited to start / "
        "what the job ahead still had to go",
        "  " + ", ".join(f"{wait:.1f} / {ahead:.1f} s" for wait, ahead in flooded["honest"]),
        f"  every honest run started within the job ahead of it (+{TURNAROUND_SECONDS:g} s): "
        + ("yes" if not late else f"NO ({len(late)} late)"),
    ]
    within = not late
    report = "\n".join(lines)
    print(report)
    if args.write:
        measured = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        cpus = os.cpu_count()
        section = (
            f"{HEADING}\n\n`python benchmarks/load.py --write docs/benchmarks.md` starts the "
            "Procfile's `web` process and 1, then 2, `worker` processes on a fresh SQLite "
            "database, and drives the candidate API over HTTP as the pages do. Each simulated "
            "candidate works on one of the ten challenges: a visible run of the reference "
            "solution, then a submission of it, each polled to its report. Then one candidate "
            "sends runs and submissions as fast as the server accepts them while another makes "
            "visible runs; waits are from queued to started, as the database records them.\n\n"
            f"Measured {measured} on {platform.machine()}, {cpus} cores:\n\n```\n{report}\n```\n\n"
            + INTERPRETATION
            + "\n"
        )
        replace_section(args.write, HEADING, section)
        print(f"wrote {args.write}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
