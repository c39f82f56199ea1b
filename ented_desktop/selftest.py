"""``ented-desktop --selftest``: does this installation (a bundle above all) work, offline?

In a throwaway user folder (``ENTED_DATA_DIR``, ``HOME`` and the XDG folders moved into a temporary folder, so
the user's library, settings and models are never touched) and with Internet connections refused, it:

1. checks the shipped files: every model in the shipped manifest with its SHA-256, the resources;
2. restores the bundled sample photo with the shipped model through ONNX Runtime (``ented restore --engine onnx``);
3. imports a model as the model manager does: a Real-ESRGAN file with random weights, made now in the upstream
   layout (``params_ema``), is recognised, stored, listed in the manifest, loaded back and run;
4. starts the window offscreen, hands it a photo as the command line does, and waits for the photo to be
   imported into an album named after its folder and for its face to be found.

One line per check (``ok`` or ``FAIL``, what was seen, seconds), then a summary line; exit status 0 only when
every check passed. Qt is imported by the window check only.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ented_desktop.core import paths

SAMPLE = Path("samples") / "astronaut.jpg"  # under resources/
REQUIRED_RESOURCES = ("style.qss", "icons/app.svg", str(SAMPLE))
WINDOW_TIMEOUT_S = 240.0  # import + face detection of one photo; seconds on a laptop, minutes on 2 busy cores
IMPORTED_MODEL = "selftest-realesrgan"
MAX_REASON_CHARS = 600


class CheckFailed(Exception):
    """A check's one-sentence reason for failing."""


def isolate(home: Path) -> None:
    """Move every per-user folder of this process under ``home`` and draw the window offscreen."""
    os.environ.pop("ENTED_MODEL_DIR", None)  # the shipped model must be the one found
    os.environ["ENTED_DATA_DIR"] = str(home / "ented-data")
    os.environ["HOME"] = str(home)
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        os.environ[name] = str(home / name.lower())
    os.environ["QT_QPA_PLATFORM"] = "offscreen"


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Refuse connections to Internet addresses (local sockets still work): a check that needs the network fails."""
    original = socket.socket.connect, socket.socket.connect_ex

    def refuse(self: socket.socket, *args: object, **kwargs: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError("the self-test runs offline: no network connection is allowed")
        return original[0](self, *args, **kwargs)  # type: ignore[arg-type]

    def refuse_ex(self: socket.socket, *args: object, **kwargs: object) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError("the self-test runs offline: no network connection is allowed")
        return original[1](self, *args, **kwargs)  # type: ignore[arg-type]

    socket.socket.connect, socket.socket.connect_ex = refuse, refuse_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = original  # type: ignore[method-assign]


def check_shipped_files(work: Path) -> str:
    from ented_desktop.core.weights import read_manifest, sha256_file

    models = paths.shipped_models_dir()
    manifest = read_manifest(models)
    if not manifest:
        raise CheckFailed(f"{models} has no manifest.sha256 listing the shipped model")
    wrong = [name for name, digest in manifest.items()
             if not (models / name).is_file() or sha256_file(models / name) != digest]
    wrong += [name for name in REQUIRED_RESOURCES if not (paths.resources_dir() / name).is_file()]
    if wrong:
        raise CheckFailed(f"missing or changed: {', '.join(wrong)}")
    return f"{len(manifest)} model files match manifest.sha256; {len(REQUIRED_RESOURCES)} resources present"


def check_restore(work: Path) -> str:
    """The sample restored through the command line's code, in this process, with the ONNX engine."""
    from PIL import Image

    from ented_desktop.cli.main import main as cli_main

    photo = paths.resources_dir() / SAMPLE
    out = work / "restored"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli_main(["restore", str(photo), "-o", str(out), "--engine", "onnx", "--json"])
    if status != 0:
        raise CheckFailed(f"ented restore exited {status}: {stderr.getvalue().strip()[-400:]}")
    try:
        summary = json.loads(stdout.getvalue())
        row = summary["inputs"][0]
        output = Path(row["output"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CheckFailed(f"no JSON summary ({exc}): {stdout.getvalue()[-300:]!r}") from None
    if summary.get("engine") != "onnx" or row.get("faces_restored", 0) < 1 or not output.is_file():
        raise CheckFailed(f"nothing restored by ONNX Runtime: {json.dumps(row)[:300]}")
    with Image.open(photo) as before, Image.open(output) as after:
        if after.size != before.size:
            raise CheckFailed(f"output is {after.size}, the input {before.size}")
        if after.convert("RGB").tobytes() == before.convert("RGB").tobytes():
            raise CheckFailed("the output is the input unchanged")
    return (f"{row['faces_restored']} of {row['faces_found']} face(s) restored by {summary.get('model')} with ONNX "
            f"Runtime on {summary.get('device')}, {after.size[0]}x{after.size[1]} output")


def random_realesrgan(path: Path, feat: int = 16, blocks: int = 1) -> Path:
    """A small Real-ESRGAN x2 (basicsr's RRDBNet layout, upstream's growth of 32 channels) with random weights,
    saved as upstream saves it."""
    import torch

    grow = 32
    generator = torch.Generator().manual_seed(0)

    def conv(name: str, cin: int, cout: int) -> dict[str, torch.Tensor]:
        weight = torch.randn(cout, cin, 3, 3, generator=generator) * (0.5 / (cin * 9) ** 0.5)
        return {f"{name}.weight": weight, f"{name}.bias": torch.zeros(cout)}

    state = conv("conv_first", 3 * 4, feat)  # x2 models see a pixel-unshuffled input: 4 x 3 channels
    for b in range(blocks):
        for r in (1, 2, 3):
            for k in range(1, 6):
                state |= conv(f"body.{b}.rdb{r}.conv{k}", feat + (k - 1) * grow, grow if k < 5 else feat)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        state |= conv(name, feat, feat)
    state |= conv("conv_last", feat, 3)
    torch.save({"params_ema": state}, path)
    return path


def check_model_import(work: Path) -> str:
    """What the model manager's import does to a downloaded file; then the stored model is built and run."""
    import torch
    from safetensors.torch import load_file

    from ented_desktop.core.archs import build_module, detect_architecture
    from ented_desktop.core.engines.thirdparty import verify_listed
    from ented_desktop.core.models.importer import import_model

    source = random_realesrgan(work / "RealESRGAN_random_x2.pth")
    model = import_model(source, name=IMPORTED_MODEL, model_dir=work / "models")
    if (model.architecture, model.purpose, model.scale) != ("realesrgan", "background", 2) or not model.verified:
        raise CheckFailed(f"imported as {model.architecture}/{model.purpose} x{model.scale}, "
                          f"verified {model.verified}")
    verify_listed(model.path)  # the stored file against its manifest line
    state = load_file(str(model.path))
    module = build_module(state, detect_architecture(state))
    with torch.no_grad():
        result = module(torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)))
    if tuple(result.shape) != (1, 3, 32, 32) or not torch.isfinite(result).all():
        raise CheckFailed(f"the imported model gave {tuple(result.shape)} for a 16x16 input")
    return f"{source.name} imported as {model.name} ({model.architecture} x{model.scale}), runs: 16x16 -> 32x32"


def check_window(work: Path) -> str:
    """The window offscreen, given a photo as by ``ented-desktop PHOTO``; waits for import and face detection."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from ented_desktop.core.library import Library, default_library_dir
    from ented_desktop.gui import app as app_module

    folder = work / "Family photos"
    folder.mkdir()
    photo = shutil.copy(paths.resources_dir() / SAMPLE, folder / SAMPLE.name)
    errors: list[str] = []
    previous_hook = sys.excepthook
    sys.excepthook = lambda kind, exc, tb: errors.append(f"{kind.__name__}: {exc}")  # from a slot
    start = time.monotonic()
    app = app_module.create_application([sys.argv[0] if sys.argv else "ented-desktop"])
    library = Library(default_library_dir())
    window = None
    try:
        window = app_module.start_window(library)
        app_module.open_paths(window, [Path(photo)])
        loop = QEventLoop()
        outcome: dict[str, str] = {}

        def poll() -> None:
            dialog = QApplication.activeModalWidget()  # shown offscreen to nobody: it would wait for ever
            if dialog is not None:
                errors.append(f"the window asked {getattr(dialog, 'text', dialog.windowTitle)()!r}")
                dialog.reject()
                return
            failed = [j for j in library.jobs.all() if j.state == "failed"]
            photos = library.photos.all()
            if errors or failed:
                outcome["fail"] = "; ".join(errors + [f"{j.kind} job failed: {j.error}" for j in failed])
            elif len(photos) == 1 and not library.photos.needing_faces() and not window.queue.active():
                outcome["faces"] = str(len(library.faces.of_photo(photos[0].id)))
            elif time.monotonic() - start > WINDOW_TIMEOUT_S:
                outcome["fail"] = (f"after {WINDOW_TIMEOUT_S:.0f} s: {len(photos)} photo(s) imported, "
                                   f"faces {'not ' if library.photos.needing_faces() else ''}looked for")
            else:
                return
            loop.quit()

        timer = QTimer(interval=200, timeout=poll)
        timer.start()
        loop.exec()
        timer.stop()
        if "fail" in outcome:
            raise CheckFailed(outcome["fail"])
        albums = [a.name for a in library.albums.all()]
        visible = window.isVisible()
    finally:
        if window is not None:
            window.shutdown()  # stops its background work before the library closes, so closing asks nothing
            window.close()
            app.processEvents()
        sys.excepthook = previous_hook
        library.close()
    if albums != [folder.name] or outcome["faces"] == "0" or not visible:
        raise CheckFailed(f"albums {albums}, {outcome['faces']} face(s), window shown: {visible}")
    return (f"window shown ({app.platformName()}); {SAMPLE.name} imported into album {albums[0]!r}; "
            f"{outcome['faces']} face(s) found")


CHECKS: list[tuple[str, Callable[[Path], str]]] = [
    ("shipped files", check_shipped_files),
    ("restore the sample with ONNX Runtime", check_restore),
    ("import a model (random-weight Real-ESRGAN)", check_model_import),
    ("window, command-line import, face detection", check_window),
]


def run() -> int:
    """Run every check; 0 when all passed, 1 otherwise."""
    start = time.perf_counter()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="ented-selftest-") as tmp, offline():
        home = Path(tmp)
        isolate(home)
        print(f"ENTED Desktop self-test in {home} (offline)", flush=True)
        for name, check in CHECKS:
            work = home / name.split()[0]
            work.mkdir(exist_ok=True)
            began = time.perf_counter()
            try:
                detail = check(work)
            except Exception as exc:  # a check's own failure, or anything it raised: reported, the next one runs
                failures += 1
                reason = str(exc) if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {exc}"
                reason = " | ".join(reason.strip().splitlines())[:MAX_REASON_CHARS]
                print(f"FAIL  {name}: {reason} ({time.perf_counter() - began:.1f} s)", flush=True)
            else:
                print(f"ok    {name}: {detail} ({time.perf_counter() - began:.1f} s)", flush=True)
    total = time.perf_counter() - start
    if failures:
        print(f"self-test FAILED: {failures} of {len(CHECKS)} checks failed ({total:.0f} s)", flush=True)
        return 1
    print(f"self-test passed: {len(CHECKS)} checks ({total:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run())
