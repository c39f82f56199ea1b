"""`ented restore INPUT... -o OUTDIR [--reference REF | --pairs CSV] [--aligned] [--engine torch|onnx]
[--device auto|cpu|cuda] [--model NAME_OR_PATH] [--fidelity W] [--background clean|enlarge
[--background-model NAME]] [--json]`

Which model restores a face: --model NAME for every face; by default ENTED (with the reference) for faces up to
its 128 px, and the best installed 512 px face model (CodeFormer, GFPGAN, RestoreFormer++, RestoreFormer, in
that order) for larger ones. --fidelity is CodeFormer's w (0 quality to 1 fidelity, 0.5 by default). With a
reference, the face it belongs to is checked against it (identity distances before and after, in --json).

Outputs keep the input's stem (inside OUTDIR, mirroring sub-folders of folder inputs), are PNG unless the input
is JPEG, keep the input's size (twice it with --background enlarge), EXIF and ICC, and are written atomically.
No existing file is overwritten except an output of an earlier run into the same OUTDIR, unchanged since (listed
in OUTDIR/.ented-restore.json). Exit status 0 when every input was restored, 1 otherwise (one line per failed
input on stderr), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ented_desktop.cli.restore_outputs import WrittenOutputs
from ented_desktop.core.errors import UserError
from ented_desktop.core.face.detect import DETECTORS
from ented_desktop.core.reference_match import ReferenceMatcher, offline_embedder

EXIT_SOME_FAILED = 1


@dataclass
class Job:
    input: Path
    output: Path
    reference: Path | None
    result: dict = field(default_factory=dict)
    replace: bool = False  # the output exists and is an earlier run's: replace it


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="restore the faces in photos", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", type=Path, metavar="INPUT", help="image files or folders (recursive)")
    p.add_argument("-o", "--output", dest="outdir", type=Path, required=True, metavar="OUTDIR")
    refs = p.add_mutually_exclusive_group()
    refs.add_argument("--reference", type=Path, metavar="REF", help="a good photo of the person, for every input")
    refs.add_argument("--pairs", type=Path, metavar="CSV", help="rows 'input,reference' (header optional)")
    p.add_argument("--aligned", action="store_true",
                   help="inputs and references are aligned face crops (FFHQ template, any square size)")
    p.add_argument("--engine", choices=("torch", "onnx"), default="torch")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--model", metavar="NAME_OR_PATH",
                   help="restore every face with this model: a name from `ented models list` (ENTED or an "
                        "imported face model), or a file (default: ENTED for faces up to its 128 px, and the best "
                        "installed 512 px face model for larger ones)")
    p.add_argument("--fidelity", type=float, metavar="W",
                   help="CodeFormer's fidelity weight w, 0 (quality) to 1 (fidelity); default 0.5 as upstream")
    p.add_argument("--background", choices=("clean", "enlarge"),
                   help="also restore the background with the installed upscaler: clean it at the photo's size, "
                        "or enlarge the photo 2x")
    p.add_argument("--background-model", metavar="NAME",
                   help="the installed background model (default realesrgan-x2plus)")
    p.add_argument("--model-dir", type=Path, help="the model directory (default: ENTED_MODEL_DIR or user data)")
    p.add_argument("--detector", choices=DETECTORS, default="auto", help="face detector (default auto)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.set_defaults(run=run)


def expand_inputs(paths: list[Path], outdir: Path) -> list[tuple[Path, Path]]:
    """(file, path relative to its output folder) for each input; folders are walked recursively in name order,
    leaving out hidden files and folders (such as macOS's ``._photo.jpg``) and an OUTDIR inside the folder, so a
    second run does not restore the first one's outputs."""
    from ented_desktop.core.imageio import SUPPORTED_SUFFIXES

    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            skip = outdir.resolve()
            if skip == path.resolve():  # OUTDIR is the folder itself: its photos are the inputs
                skip = None
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = file.relative_to(path)
                hidden = any(part.startswith(".") for part in rel.parts)
                if hidden or file.suffix.lower() not in SUPPORTED_SUFFIXES:
                    continue
                if skip is None or not file.resolve().is_relative_to(skip):
                    found.append((file, rel))
        else:
            found.append((path, Path(path.name)))  # a missing file is reported when it is read
    return found


def read_pairs(csv_path: Path) -> list[tuple[Path, Path]]:
    """Rows ``input,reference``; relative paths are taken from the CSV's folder (or the working folder)."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"Cannot read the pairs file {csv_path}: {exc.strerror or exc}.") from exc
    except UnicodeDecodeError:
        text = None
    # UTF-16 without a byte order mark decodes as UTF-8, with a NUL byte beside every ASCII character.
    if text is None or "\0" in text:
        raise UserError(f"The pairs file {csv_path} is not UTF-8 text; save it as \"CSV UTF-8\".")
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["input", "reference"]:
        rows = rows[1:]
    pairs = []
    for n, row in enumerate(rows, start=1):
        if len(row) != 2:
            raise UserError(f"{csv_path}: row {n} must have two columns, input and reference.")
        pairs.append(tuple(_locate(c.strip(), csv_path.parent) for c in row))
    return pairs


def _locate(name: str, base: Path) -> Path:
    path = Path(name)
    # The working folder only when the file is there and not in the CSV's folder; a file that is in neither
    # is reported under the CSV's folder, where the README says it is read from.
    if path.is_absolute() or (not (base / path).exists() and path.exists()):
        return path
    return base / path


def plan(args: argparse.Namespace, outputs: WrittenOutputs) -> list[Job]:
    from ented_desktop.core.imageio import output_path_for

    entries: list[tuple[Path, Path, Path | None]] = []
    if args.pairs:
        entries += [(inp, Path(inp.name), ref) for inp, ref in read_pairs(args.pairs)]
    entries += [(f, rel, args.reference) for f, rel in expand_inputs(args.inputs, args.outdir)]
    if not entries:
        raise UserError("No input photos: give image files or folders, or --pairs CSV.")
    existing = [inp for inp, _, _ in entries if inp.is_file()]
    # By device and inode, so another name for an input (a link, a different case on macOS or FAT) is caught too.
    # A reference is the user's photo as well: an output must not replace it either.
    references = {ref for _, _, ref in entries if ref is not None and ref.is_file()}
    input_files = {(st.st_dev, st.st_ino) for st in map(os.stat, [*existing, *references])}
    input_folders = {inp.resolve().parent for inp in existing}
    jobs, claimed, planned = [], {}, set()
    for inp, rel, ref in entries:
        out = output_path_for(inp, args.outdir / rel.parent)
        key = out.resolve()
        # The same photo named twice (a file and its folder, an overlapping glob) is restored once.
        same = (inp.resolve(), key, ref.resolve() if ref else None)
        if same in planned:
            continue
        planned.add(same)
        job = Job(inp, out, ref)
        there = os.stat(out) if out.exists() else None
        if key in claimed:
            job.result = {"error": f"another input ({claimed[key]}) already writes {out}"}
        elif there is not None and (there.st_dev, there.st_ino) in input_files:
            job.result = {"error": f"the output {out} would overwrite an input or a reference; choose another OUTDIR"}
        elif there is not None and key.parent in input_folders:
            job.result = {"error": f"{out} already exists beside the photos being restored and is not replaced; "
                                   "choose another OUTDIR"}
        elif there is not None and not outputs.replaceable(out):
            job.result = {"error": f"{out} already exists and is not an unchanged output of an earlier "
                                   "ented restore into this folder, so it is not replaced; choose another OUTDIR "
                                   "or move that file"}
        else:
            claimed[key] = inp
            job.replace = there is not None
        jobs.append(job)
    return jobs


def run(args: argparse.Namespace) -> int:
    from ented_desktop.core.restore_job import IdentityChecks, RestoreSettings, start_run
    from ented_desktop.core.restore_wording import BACKGROUND_ON_CROPS

    if args.aligned and args.background:
        raise UserError(BACKGROUND_ON_CROPS + ".")
    outputs = WrittenOutputs(args.outdir)
    jobs = plan(args, outputs)
    models = start_run(RestoreSettings(args.model, args.engine, args.device, args.model_dir, args.detector,
                                       fidelity=args.fidelity, background=args.background,
                                       background_model=args.background_model))
    restorer = models.main
    embedder = functools.cache(offline_embedder)  # one for matching references and checking identities
    matcher = ReferenceMatcher(embedder)
    identity = IdentityChecks(embedder) if args.reference or args.pairs else None
    references: dict[Path, np.ndarray] = {}
    if args.reference is not None:  # one reference for the whole run: if it is unusable, that is a usage error
        with collect_notes():  # only the reference's pixels are used, so notes on its metadata do not matter
            references[args.reference] = load_reference(args.reference, restorer, args.aligned)
    show_bar = len(jobs) > 1
    bar = None
    if show_bar:
        from tqdm import tqdm

        # disable=None: only on a terminal; a script reading stderr gets just one line per failed input.
        bar = tqdm(total=len(jobs), unit="photo", file=sys.stderr, dynamic_ncols=True, desc="restoring",
                   disable=None)
    for job in jobs:
        if not job.result:
            start = time.perf_counter()
            try:
                job.result = restore_one(job, models, references, matcher, args.aligned, identity)
                if "error" not in job.result:
                    outputs.record(job.output)
            except UserError as exc:
                job.result = {"error": str(exc)}
            except MemoryError:
                job.result = {"error": "not enough memory to restore this photo"}
            job.result["seconds"] = round(time.perf_counter() - start, 3)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    failed = [j for j in jobs if "error" in j.result]
    for job in failed:
        print(f"ented: {job.input}: {job.result['error']}", file=sys.stderr)
    if args.json:
        summary = {
            "model": restorer.engine.model_name, "engine": restorer.engine.name, "device": restorer.engine.device,
            "large_faces_model": models.rule.large_faces, "fidelity": models.record["fidelity"],
            "background": args.background, "restored": len(jobs) - len(failed), "failed": len(failed),
            "inputs": [_json_row(j) for j in jobs],
        }
        print(json.dumps(summary, indent=2))
    return EXIT_SOME_FAILED if failed else 0


def _json_row(job: Job) -> dict:
    r = job.result
    row = {"input": str(job.input), "output": str(job.output) if "error" not in r else None,
           "reference": str(job.reference) if job.reference else None,
           "faces_found": r.get("faces_found", 0), "faces_restored": r.get("faces_restored", 0),
           "reference_used": r.get("reference_used", []), "seconds": r.get("seconds", 0.0),
           "notes": r.get("notes", [])}
    if "error" in r:
        row["error"] = r["error"]
    if "faces" in r:
        row["faces"] = r["faces"]
    return row


def load_reference(path: Path, restorer, aligned: bool) -> np.ndarray:
    """The reference as the network takes it: the file's pixels for --aligned, else its largest face, aligned."""
    from ented_desktop.core.imageio import read_photo
    from ented_desktop.core.pipeline import prepare_reference, reference_crop

    pixels = read_photo(path).pixels
    if aligned:
        reference_crop(pixels, restorer.resolution)  # refuses a crop that is not square now, not once per input
        return pixels
    return prepare_reference(pixels, restorer.detector, restorer.resolution)


class _NoteList(logging.Handler):
    def __init__(self, notes: list[str]) -> None:
        super().__init__()
        self.notes = notes

    def emit(self, record: logging.LogRecord) -> None:
        self.notes.append(record.getMessage())


@contextlib.contextmanager
def collect_notes() -> Iterator[list[str]]:
    """What reading, restoring and writing a photo reports without failing it (EXIF or an ICC profile left out,
    Pillow's warnings about odd metadata), collected for the photo's --json row: stderr is for failed inputs."""
    notes: list[str] = []
    handler = _NoteList(notes)
    logger = logging.getLogger("ented_desktop")
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False  # nor to a handler on the root logger
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield notes
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        notes.extend(str(w.message) for w in caught)


def restore_one(job: Job, models, references: dict, matcher: ReferenceMatcher, aligned: bool,
                identity=None) -> dict:
    """Restore one input with the run's ``models`` (core.restore_job.RestoreRun); ``identity``: the run's
    core.restore_job.IdentityChecks, when references are given."""
    if job.reference is not None and job.reference not in references:
        with collect_notes():  # only the reference's pixels are used, so notes on its metadata do not matter
            references[job.reference] = load_reference(job.reference, models.main, aligned)
    with collect_notes() as notes:
        result = _restore_photo(job, models, references.get(job.reference), matcher, aligned, identity)
    result["notes"] = list(dict.fromkeys(notes))  # each note once, however often it was reported
    return result


def _restore_photo(job: Job, models, ref: np.ndarray | None, matcher: ReferenceMatcher, aligned: bool,
                   identity) -> dict:
    from ented_desktop.core.image_write import write_photo_atomic
    from ented_desktop.core.imageio import read_photo
    from ented_desktop.core.restore_job import NothingRestored, restore_detected

    photo = read_photo(job.input)
    if aligned:  # the crop is the face: its side is its size
        restorer = models.restorer_for(models.rule.model_for(float(photo.pixels.shape[0])))
        pixels = restorer.restore_aligned(photo.pixels, ref, grayscale=photo.grayscale)
        used = "unused" if not getattr(restorer.engine, "uses_reference", True) else "self" if ref is None else "person"
        result = {"faces_found": 1, "faces_restored": 1, "reference_used": [used]}
    else:
        try:
            out = restore_detected(photo.pixels, models.main, reference=ref, matcher=matcher,
                                   grayscale=photo.grayscale, run=models, identity=identity)
        except NothingRestored as exc:  # a failure that still reports the faces it found
            return {"faces_found": len(exc.faces), "faces_restored": 0,
                    "reference_used": [f.reference for f in exc.faces], "faces": [f.json_row() for f in exc.faces],
                    "error": str(exc)}
        result = {"faces_found": len(out.faces), "faces_restored": out.restored_count,
                  "reference_used": out.reference_used, "faces": [f.json_row() for f in out.faces]}
        pixels = out.pixels
    try:
        job.output.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"Cannot create the output folder {job.output.parent}: it, or a folder above it, "
                        "is a file.") from None
    except OSError as exc:
        raise UserError(f"Cannot create the output folder {job.output.parent}: {exc.strerror or exc}.") from exc
    write_photo_atomic(pixels, job.output, grayscale=photo.grayscale, exif=photo.exif,
                       icc_profile=photo.icc_profile, overwrite=job.replace)
    return result
