"""End to end: the real application in a real X server (Xvfb), driven with real mouse and keyboard events.

Steps: drop a folder of real photos (plus two bad files), open a photo, go to the next photo and back with the
arrow keys, click a face and name the person, accept the suggested reference, restore, drag the compare slider,
toggle before/after, export, and check the exported file. A screenshot of the whole screen is saved after each
step (ImageMagick ``import -window root``) in the folder of the ``screenshot_dir`` fixture (``tests/gui/conftest.py``).

How the test drives the app:

- The app is started by :mod:`tests.gui.launch_app`, which installs the test hooks of
  :mod:`tests.gui.app_hooks` (the shipped package has none).
- The drop: xdotool cannot drag from a file manager, so the test hook ``ENTED_TEST_DROP`` sends the
  window the same drag-enter / drag-move / drop events a file manager would; the window's ordinary drop
  handler imports the folder.
- Everything else is real X input from xdotool (clicks, typing, shortcuts). Where to click comes from
  ``ENTED_TEST_STATE``, a JSON snapshot the app writes every 250 ms (screen rectangles of the face
  boxes, buttons, grid items and the compare view, plus jobs, people and versions to wait on).

The model: ENTED Desktop refuses weights that no training run produced. The restore step uses the model
in ``ENTED_E2E_MODEL_DIR`` when set, else the one shipped in the repository's ``models/`` (the README's
screenshots come from that). Without either, the test makes one the honest way instead of forging the
"trained" metadata: a real two-iteration run of the project's training loop on synthetic 32 x 32 faces
(the TINY configuration of the training tests), registered with its manifest line only in the test's
temporary model folder. Its output is meaningless; it proves the plumbing (load, align, restore, paste,
version, compare, export), not the restoration, and the screenshots of that run say nothing about quality.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ented_desktop.core.paths import resources_dir

ROOT = Path(__file__).resolve().parents[2]
SHARED_PHOTOS = ROOT.parent / "shared" / "data" / "real_lq"
SCREEN = (1280, 800)  # the window's default size: screenshots without empty margins

pytestmark = pytest.mark.slow

for tool in ("Xvfb", "xdotool", "import"):
    if shutil.which(tool) is None:
        pytestmark = [pytest.mark.slow, pytest.mark.skip(reason=f"{tool} is not installed (apt-get install "
                                                         "xvfb xdotool imagemagick)")]


def trained_model_dir() -> Path | None:
    override = os.environ.get("ENTED_E2E_MODEL_DIR")
    if override:
        return Path(override)
    shipped = ROOT / "models"
    return shipped if any(shipped.glob("*.safetensors")) else None


def tiny_test_model(model_dir: Path) -> Path:
    """A TINY network from a real two-iteration training run on synthetic faces, installed under the
    default model name in ``model_dir`` (a temporary folder of this test; never shipped)."""
    from ented_desktop.core.weights import DEFAULT_MODEL, SUFFIX, add_to_manifest
    from tests.training_fixtures import SyntheticTriplets, tiny_config
    from training.loop import train

    summary = train(tiny_config(iterations=2), model_dir.parent / "tiny-run", dataset=SyntheticTriplets(),
                    show_progress=False)
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / f"{DEFAULT_MODEL}{SUFFIX}"
    shutil.copy2(summary["model"], target)
    add_to_manifest(target)
    return target


def photo_folder(tmp: Path) -> Path:
    """Real degraded photos (../shared) or, without them, generated ones; plus two files that cannot be
    imported, so the Problems panel has something to show."""
    folder = tmp / "Family album"
    folder.mkdir()
    sources = [SHARED_PHOTOS / "gfpgan_whole" / n for n in ("00.jpg", "10045.png", "Blake_Lively.jpg")]
    sources.append(SHARED_PHOTOS / "restoreformerpp_raw" / "06.png")
    if all(p.is_file() for p in sources):
        for source in sources:
            shutil.copy2(source, folder / source.name)
    else:  # the shipped sample portrait in four versions, so that there are faces to name and restore
        from PIL import Image, ImageOps

        sample = Image.open(resources_dir() / "samples" / "astronaut.jpg")
        variants = {"portrait.jpg": sample, "mirrored.jpg": ImageOps.mirror(sample),
                    "gray.jpg": ImageOps.grayscale(sample), "small.png": sample.resize((256, 256))}
        for name, image in variants.items():
            image.save(folder / name)
    (folder / "scan_0042.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    (folder / "notes.txt").write_text("Aunt May, summer 1962")
    return folder


def free_display() -> int:
    for number in range(90, 140):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    raise RuntimeError("no free X display number")


class Session:
    """The running app under Xvfb, with helpers to read its state and send it input."""

    def __init__(self, tmp: Path, folder: Path, model_dir: Path | None, screenshots: Path) -> None:
        self.tmp = tmp
        self.display = f":{free_display()}"
        self.state_file = tmp / "state.json"
        self.screenshots = screenshots
        screen = f"{SCREEN[0]}x{SCREEN[1]}x24"
        self.xvfb = subprocess.Popen(["Xvfb", self.display, "-screen", "0", screen, "-nolisten", "tcp"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
        self.env.update(DISPLAY=self.display, ENTED_DATA_DIR=str(tmp / "data"),
                        ENTED_MODEL_DIR=str(model_dir or tmp / "models"), ENTED_TEST_DROP=str(folder),
                        ENTED_TEST_STATE=str(self.state_file), PYTHONPATH=os.pathsep.join(sys.path))
        self.wait_for(lambda: Path(f"/tmp/.X11-unix/X{self.display[1:]}").exists(), 10, "Xvfb to start")
        self.log = open(tmp / "app.log", "w")  # noqa: SIM115 (closed in stop)
        self.app = subprocess.Popen([sys.executable, "-m", "tests.gui.launch_app"], env=self.env,
                                    stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        for process in (self.app, self.xvfb):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.log.close()

    def wait_for(self, condition, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if getattr(self, "app", None) is not None and self.app.poll() is not None:
                raise AssertionError(f"the app exited ({self.app.returncode}) while waiting for {what}:\n"
                                     + (self.tmp / "app.log").read_text()[-3000:])
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; last state: {self.state()}")

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def until(self, predicate, timeout: float, what: str) -> dict:
        def check() -> dict | None:
            state = self.state()
            return state if state and predicate(state) else None

        return self.wait_for(check, timeout, what)

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, capture_output=True)

    def click(self, rect: list[int], button: str = "1", repeat: int = 1) -> None:
        x, y, w, h = rect
        self.move(x + w // 2, y + h // 2)
        self.xdotool("click", "--repeat", str(repeat), "--delay", "120", button)

    def move(self, x: int, y: int) -> None:
        """Move the pointer and return once the X server has it there."""
        self.xdotool("mousemove", "--sync", str(x), str(y))

    def settled(self) -> None:
        """Return once the app has written two snapshots since now: its event loop has gone round, so the
        repaints asked for before now have reached the screen."""
        for _ in range(2):
            before = self.state_file.stat().st_mtime_ns if self.state_file.exists() else 0
            self.wait_for(lambda since=before: self.state_file.exists() and self.state_file.stat().st_mtime_ns > since,
                          10, "the app to write its state")

    def key(self, *keys: str) -> None:
        self.xdotool("key", "--delay", "60", *keys)

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "40", text)

    def screenshot(self, name: str) -> Path:
        self.settled()
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        subprocess.run(["import", "-display", self.display, "-window", "root", str(path)], env=self.env,
                       check=True, capture_output=True)
        return path


def job_states(state: dict, kind: str) -> list[str]:
    return [j["state"] for j in state.get("jobs", []) if j["kind"] == kind]


def finished(state: dict, kind: str) -> bool:
    states = job_states(state, kind)
    return bool(states) and all(s in ("done", "failed", "cancelled") for s in states)


def test_real_app_under_xvfb(tmp_path, screenshot_dir):
    model_dir = trained_model_dir()
    if model_dir is None:
        model_dir = tmp_path / "models"
        tiny_test_model(model_dir)
    folder = photo_folder(tmp_path)
    session = Session(tmp_path, folder, model_dir, screenshot_dir)
    try:
        # 1. the dropped folder is imported, faces are found, the two bad files are listed as problems
        state = session.until(lambda s: finished(s, "import") and finished(s, "detect") and s["problems"],
                              180, "import and face detection")
        assert state["photos"] == 4
        problem_names = {Path(p).name for p, _ in state["problems"]}
        assert {"scan_0042.jpg", "notes.txt"} <= problem_names
        session.screenshot("01_imported")

        # 2. open a photo by double-clicking its thumbnail (06.png carries EXIF and an ICC profile)
        target = next((i for i in state["grid_items"] if i["name"] == "06.png"), state["grid_items"][0])
        names = [i["name"] for i in state["grid_items"]]  # the album's order (the grid is hidden on the other tabs)
        session.click(target["screen"], repeat=2)
        state = session.until(lambda s: s["tab"] == 1 and s["faces"], 30, "the photo's faces")
        session.screenshot("02_faces")

        # 2b. the next photo and back with the arrow keys, from the Faces tab (the last photo goes back first)
        opened = state["current_photo"]
        away, back = ("Left", "Right") if names.index(target["name"]) == len(names) - 1 else ("Right", "Left")
        session.key(away)
        session.until(lambda s: s["current_photo"] not in (None, opened) and s["tab"] == 1, 10, "another photo")
        session.key(back)
        state = session.until(lambda s: s["current_photo"] == opened and s["faces"], 30, "the photo again")

        # 3. click a face box and name the person in the dialog
        face = max(state["faces"], key=lambda f: f["screen"][2] * f["screen"][3])
        session.click(face["screen"])
        session.until(lambda s: s["modal"] == "Who is this?", 10, "the naming dialog")
        session.type("Cousin Leo")
        session.screenshot("03_name_dialog")
        session.key("Return")
        state = session.until(lambda s: any(p["name"] == "Cousin Leo" for p in s["people"]), 10, "the person")
        assert any(f["named"] and f["label"] == "Cousin Leo" for f in state["faces"])

        # 4. accept the suggested reference (the app explains why it suggests that face)
        state = session.until(lambda s: s["use_suggested"]["enabled"], 60, "a reference suggestion")
        session.screenshot("04_reference_suggested")
        session.click(state["use_suggested"]["screen"])
        state = session.until(lambda s: all(p["reference"] for p in s["people"] if p["name"] == "Cousin Leo"),
                              10, "the reference to be set")
        session.screenshot("05_reference_set")

        # 5. restore the photo (Ctrl+R) and wait for the job
        session.key("ctrl+r")
        state = session.until(lambda s: finished(s, "restore"), 600, "the restore job")
        restore = [j for j in state["jobs"] if j["kind"] == "restore"][-1]
        session.screenshot("06_restore_finished")
        assert restore["state"] == "done", restore

        # 6. compare: drag the split from the middle to a third, toggle before/after
        session.key("ctrl+3")
        state = session.until(lambda s: s["compare"]["visible"] and s["compare"]["has_after"], 30, "compare")
        x, y, w, h = state["compare"]["screen"]
        split_x = x + int(state["compare"]["split"] * w)
        session.move(split_x, y + h // 2)
        session.xdotool("mousedown", "1")
        for step in range(1, 11):
            session.move(split_x - step * (split_x - x - w // 3) // 10, y + h // 2)
        session.xdotool("mouseup", "1")
        state = session.until(lambda s: abs(s["compare"]["split"] - 1 / 3) < 0.03, 10, "the split to move")
        session.screenshot("07_compare_split")
        session.key("t")
        session.until(lambda s: s["compare"]["mode"] == "before", 10, "the before/after toggle")
        session.screenshot("08_compare_before")
        session.key("s")
        state = session.until(lambda s: s["compare"]["mode"] == "split", 10, "the split view again")
        fitted = state["compare"]["scale"]
        session.click(state["compare"]["faces"][0])  # per-face comparison: zoom to the face clicked
        state = session.until(lambda s: s["compare"]["scale"] > 1.5 * fitted, 10, "the zoom to the face")
        session.screenshot("09_compare_face")

        # 7. export (Ctrl+E): type the folder, keep PNG, press Export
        out = tmp_path / "exported"
        session.key("ctrl+e")
        session.until(lambda s: s["modal"] == "Export restored photos", 10, "the export dialog")
        session.key("ctrl+a")
        session.type(str(out))
        session.screenshot("10_export_dialog")
        session.key("Return")
        state = session.until(lambda s: s["exported"], 60, "the exported file")
        session.screenshot("11_exported")
        exported = Path(state["exported"][0])
        assert exported.parent == out
        assert exported.is_file()
        from PIL import Image

        with Image.open(exported) as im, Image.open(folder / target["name"]) as original:
            im.load()
            assert im.size == original.size
            assert im.info.get("icc_profile") == original.info.get("icc_profile")
            assert bool(im.getexif()) == bool(original.getexif())
    finally:
        session.stop()
