"""Killing the program at any moment leaves a consistent library.

The test starts this file as a program that imports photos, records faces and people, writes restored
versions and moves jobs along in a loop, kills it with SIGKILL at a random moment, reopens the library
and checks it; several times over.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def work(library_dir: Path, photos_dir: Path, seed: int) -> None:
    from PIL import Image

    from ented_desktop.core.face.align import template_for
    from ented_desktop.core.face.detect import Face
    from ented_desktop.core.library import Library

    rng = np.random.default_rng(seed)
    lib = Library(library_dir)
    album = lib.albums.create(f"run {seed}")
    print("ready", flush=True)
    for i in range(10**9):
        folder = photos_dir / f"batch{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(3):
            pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{k}.jpg")  # not atomic: may be cut by the kill
        for _ in lib.photos.import_paths(album, [folder]):
            pass
        photos = lib.photos.all(album)
        if not photos:
            continue
        photo = photos[int(rng.integers(len(photos)))]
        faces = [
            Face((x, 0.0, x + 10.0, 10.0), template_for(10) + np.float32([x, 0]), 0.9) for x in (0.0, 20.0)
        ]
        face_ids = lib.faces.record(photo.id, faces, [rng.normal(size=8), None], detector="stress")
        person = lib.people.create(f"P{i}", face_ids[:1])
        lib.references.set_face(person, face_ids[0])
        job = lib.jobs.add("restore", {"photo": photo.id})
        lib.jobs.set_state(job, "running")
        lib.jobs.set_progress(job, 0.5)
        version = lib.versions.add(
            photo.id,
            rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
            model="m",
            reference_people=[person],
            report={"i": i},
        )
        lib.jobs.set_state(job, "done")
        if i % 3 == 2:
            lib.versions.delete(version)
            lib.people.delete(person)
        if i % 5 == 4:
            lib.albums.remove_photos(album, [photo.id])


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_a_consistent_library(tmp_path):
    from ented_desktop.core.library import Library

    library_dir, photos_dir = tmp_path / "lib", tmp_path / "photos"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    rng = random.Random(1234)
    started = time.monotonic()
    for run in range(6):
        proc = subprocess.Popen(
            [sys.executable, __file__, str(library_dir), str(photos_dir), str(run)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.8))
        assert proc.poll() is None, "the worker stopped by itself"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        with Library(library_dir) as lib:
            assert lib.maintenance.integrity_problems() == []
            conn = lib._db.conn()
            assert conn.execute("SELECT COUNT(*) FROM jobs WHERE state = 'running'").fetchone()[0] == 0
            orphan_faces = (
                "SELECT COUNT(*) FROM faces f LEFT JOIN photos p ON p.id = f.photo_id WHERE p.id IS NULL"
            )
            assert conn.execute(orphan_faces).fetchone()[0] == 0
            lib.maintenance.remove_leftovers()
            for path in (library_dir / "versions").glob("*/*"):
                assert not path.name.endswith(".tmp")
    with Library(library_dir) as lib:
        assert len(lib.albums.all()) == 6
        assert lib.photos.all()  # each run got somewhere
        assert lib.jobs.all(states=["interrupted"]) or lib.jobs.all(states=["done"])
    assert time.monotonic() - started < 20


if __name__ == "__main__":
    work(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
