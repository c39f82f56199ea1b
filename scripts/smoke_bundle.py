"""Smoke-test a PyInstaller bundle of ENTED Desktop (the folder ``build.spec`` makes, dist/ented-desktop).

Checks that the bundle ships its data files, that ``ented`` restores the sample photo with the ONNX engine, and
that ``ented-desktop`` starts offscreen, imports a dropped photo, finds its face and is still running after
``--gui-seconds``. Everything runs with a throwaway user data folder, so the user's own library is never touched.
Prints one line per check; the exit status is 1 when a check failed. Example:
``python scripts/smoke_bundle.py dist/ented-desktop``.

No Qt here: the application reports what it shows through its ENTED_TEST_STATE hook
(ented_desktop/gui/test_hooks.py), and ENTED_TEST_DROP hands it the photo as a file-manager drop would.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "astronaut.jpg"
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
JOB_ENDED = ("done", "failed", "cancelled")  # ented_desktop.gui.job_queue's final states


class CheckFailed(Exception):
    """A check's one-line reason for failing."""


def isolated_env(home: Path) -> dict[str, str]:
    """The environment with the user data, settings and cache folders moved under ``home``."""
    env = dict(os.environ)
    env.pop("ENTED_MODEL_DIR", None)  # the shipped model must be the one found
    env["ENTED_DATA_DIR"] = str(home / "ented-data")
    env["HOME"] = str(home)
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env[name] = str(home / name.lower())
    return env


def contents_dir(dist: Path) -> Path:
    """Where PyInstaller put the data files: ``_internal`` (PyInstaller 6's default) or the folder itself."""
    internal = dist / "_internal"
    return internal if internal.is_dir() else dist


def executable(dist: Path, name: str) -> Path:
    path = dist / f"{name}{EXE_SUFFIX}"
    if not path.is_file():
        raise CheckFailed(f"{path} does not exist")
    return path


def check_version(dist: Path, env: dict[str, str], cwd: Path) -> str:
    run = subprocess.run([executable(dist, "ented"), "--version"], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=300)
    line = run.stdout.strip()
    if run.returncode != 0 or not re.fullmatch(r"ented \d+\.\d+\S*", line):
        raise CheckFailed(f"exit {run.returncode}, printed {line!r} {run.stderr.strip()[-300:]}")
    return line


def check_shipped_files(dist: Path) -> str:
    root = contents_dir(dist)
    manifest = root / "models" / "manifest.sha256"
    if not manifest.is_file():
        raise CheckFailed(f"{manifest} is missing")
    listed = [line.split(maxsplit=1)[1].lstrip("*") for line in manifest.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    missing = [name for name in listed if not (root / "models" / name).is_file()]
    required = [root / "resources" / "style.qss", root / "resources" / "icons" / "app.svg",
                root / "resources" / "samples" / "astronaut.jpg"]
    missing += [str(path.relative_to(root)) for path in required if not path.is_file()]
    configs = sorted((root / "training" / "configs").glob("*.json"))
    if not configs:
        missing.append("training/configs/*.json")
    if missing:
        raise CheckFailed(f"missing in {root}: {', '.join(missing)}")
    return f"{len(listed)} files in models/manifest.sha256, resources/, {len(configs)} training configs"


def check_restore(dist: Path, env: dict[str, str], cwd: Path, photo: Path) -> str:
    outdir = cwd / "restored"
    command = [executable(dist, "ented"), "restore", photo, "-o", outdir, "--engine", "onnx", "--json"]
    start = time.perf_counter()
    run = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise CheckFailed(f"exit {run.returncode}: {run.stderr.strip()[-500:]}")
    try:
        summary = json.loads(run.stdout)
        row = summary["inputs"][0]
    except (ValueError, KeyError, IndexError) as exc:
        raise CheckFailed(f"no JSON summary on stdout ({exc}): {run.stdout[-300:]!r}") from exc
    if summary.get("restored") != 1 or row.get("faces_restored", 0) < 1:
        raise CheckFailed(f"nothing restored: {json.dumps(row)[:300]}")
    output = Path(row["output"])
    if not output.is_file():
        raise CheckFailed(f"the JSON names {output}, which does not exist")
    with Image.open(photo) as before, Image.open(output) as after:
        if after.size != before.size:
            raise CheckFailed(f"output is {after.size[0]}x{after.size[1]}, input {before.size[0]}x{before.size[1]}")
        size = after.size
    return (f"{row['faces_restored']} of {row['faces_found']} face(s) restored by {summary['model']} on "
            f"{summary['device']}, output {size[0]}x{size[1]} like the input ({seconds:.1f} s)")


def read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not written yet; it is replaced atomically, so never half-written
        return None


def detect_job(state: dict | None) -> dict | None:
    jobs = [job for job in (state or {}).get("jobs", []) if job.get("kind") == "detect"]
    return jobs[-1] if jobs else None


def check_gui(dist: Path, env: dict[str, str], cwd: Path, photo: Path, stay: float, timeout: float) -> str:
    state_file = cwd / "gui-state.json"
    env = dict(env, QT_QPA_PLATFORM="offscreen", ENTED_TEST_STATE=str(state_file), ENTED_TEST_DROP=str(photo))
    log_path = cwd / "gui-output.txt"
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen([executable(dist, "ented-desktop")], env=env, cwd=cwd, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            state = None
            while True:
                elapsed = time.monotonic() - start
                if process.poll() is not None:
                    raise CheckFailed(f"exited with status {process.returncode} after {elapsed:.0f} s: "
                                      f"{tail(log_path)}")
                state = read_state(state_file) or state
                job = detect_job(state)
                if job is not None and job.get("state") in JOB_ENDED and elapsed >= stay:
                    break
                if elapsed > timeout:
                    raise CheckFailed(f"no finished face detection after {timeout:.0f} s "
                                      f"(window {'shown' if state else 'not shown'}): {tail(log_path)}")
                time.sleep(0.5)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    output = log_path.read_text(encoding="utf-8", errors="replace")
    if "Traceback" in output:
        raise CheckFailed(f"a traceback in its output: {tail(log_path)}")
    if job.get("state") != "done" or state.get("photos") != 1 or not state.get("faces"):
        raise CheckFailed(f"photos {state.get('photos')}, faces {len(state.get('faces', []))}, "
                          f"detection job {json.dumps(job)}")
    return (f"window up, {state['photos']} photo imported, {len(state['faces'])} face(s) found "
            f"({job.get('text')!r}), still running after {elapsed:.0f} s, no traceback")


def tail(path: Path, chars: int = 600) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    return text[-chars:].replace("\n", " | ") if text else "(no output)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", type=Path, help="the bundle folder, e.g. dist/ented-desktop")
    parser.add_argument("--photo", type=Path, default=SAMPLE, help="a photo with a face (default: the sample)")
    parser.add_argument("--gui-seconds", type=float, default=10.0,
                        help="how long ented-desktop must stay up (default 10)")
    parser.add_argument("--gui-timeout", type=float, default=180.0,
                        help="give up on the desktop application's import and detection after this (default 180)")
    args = parser.parse_args(argv)
    dist = args.dist.resolve()
    photo = args.photo.resolve()

    failures = 0
    with tempfile.TemporaryDirectory(prefix="ented-smoke-") as tmp:
        home = Path(tmp)
        env = isolated_env(home)
        checks = [
            ("ented --version", lambda: check_version(dist, env, home)),
            ("shipped files", lambda: check_shipped_files(dist)),
            ("ented restore --engine onnx", lambda: check_restore(dist, env, home, photo)),
            ("ented-desktop", lambda: check_gui(dist, env, home, photo, args.gui_seconds, args.gui_timeout)),
        ]
        for name, check in checks:
            try:
                print(f"ok    {name}: {check()}", flush=True)
            except (CheckFailed, OSError, subprocess.TimeoutExpired) as exc:
                failures += 1
                print(f"FAIL  {name}: {exc}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
