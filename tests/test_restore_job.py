"""The restore path shared by `ented restore` and the app: which model and reference each face gets, the
personal-model fallback, the face reports and their words, and which face a reference photo belongs to."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ented_desktop.core.errors import ImageReadError, ModelError, UserError
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.pipeline import MIN_FACE, Restorer
from ented_desktop.core.pipeline import FaceReport as PipelineFaceReport
from ented_desktop.core.reference_match import ReferenceMatcher
from ented_desktop.core.restore_job import (
    FaceReport,
    IdentityChecks,
    NothingRestored,
    RestoreSettings,
    cached_loader,
    restore_detected,
    restore_faces,
    restore_library_photo,
    start_run,
    unusable_personal_models,
)
from ented_desktop.core.restore_plan import FailedModels, ModelRule, RestorePass
from ented_desktop.core.restore_wording import (
    face_outcome,
    face_plan,
    nothing_restored,
    personal_model_unusable,
    reference_unusable,
)


class ConstEngine:
    """A stand-in engine that paints every face ``value``; records whether each face was given a reference
    other than itself."""

    name, device, resolution = "const", "cpu", 64

    def __init__(self, model_name: str, value: float) -> None:
        self.model_name, self.value, self.had_reference = model_name, value, []

    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        self.had_reference += [not np.array_equal(a, b) for a, b in zip(lq, ref, strict=True)]
        return np.full_like(lq, self.value)


class ListDetector:
    name = "list"

    def __init__(self, faces: list[Face]) -> None:
        self.faces = faces

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return list(self.faces)


def face_at(x: float, size: float = 60) -> Face:
    return Face((x, 10, x + size, 10 + size), template_for(size) + np.float32([x, 10]), 0.9)


PHOTO = np.full((100, 260, 3), 100, np.uint8)
TWO_FACES = [face_at(10), face_at(150)]


def person(pid: int, name: str, model: Path | None = None) -> SimpleNamespace:
    return SimpleNamespace(id=pid, name=name, personal_model=model, reference_face_id=None, reference_image=None)


def no_references(restore_pass, restorer):
    return [None] * len(restore_pass.faces), [None] * len(restore_pass.faces)


def test_each_pass_restores_its_faces_with_its_model_and_the_reports_say_so():
    anna, bob = person(1, "Anna", Path("/models/anna.safetensors")), person(2, "Bob")
    restorers = {anna.personal_model: Restorer(ConstEngine("anna", 1.0)), None: Restorer(ConstEngine("general", 0.0))}
    passes = [RestorePass(anna.personal_model, (0,), (anna,)), RestorePass(None, (1,), (bob,))]
    reference = np.full((64, 64, 3), 200, np.uint8)

    def references(restore_pass, restorer):  # Bob's reference cannot be used; Anna's can
        if restore_pass.model is None:
            return [None], ["the reference photo of Bob cannot be used: no face in it; restored without it"]
        return [reference], [None]

    result = restore_faces(PHOTO, TWO_FACES, passes, restorers.__getitem__, references, face_ids=[7, 8])

    assert result.models == ["anna", "general"]
    assert [f.model for f in result.faces] == ["anna.safetensors", "general"]
    assert [(f.person, f.person_id, f.face_id) for f in result.faces] == [("Anna", 1, 7), ("Bob", 2, 8)]
    assert result.reference_used == ["person", "self"]
    assert result.faces[0].fallback is None
    assert result.faces[1].fallback == "the reference photo of Bob cannot be used: no face in it; restored without it"
    assert restorers[anna.personal_model].engine.had_reference == [True]
    # Anna's model painted her face white and the general one Bob's black; the pixels between them are untouched.
    assert result.pixels[40, 40].tolist() == [255, 255, 255] and result.pixels[40, 180].tolist() == [0, 0, 0]
    assert result.pixels[40, 110].tolist() == [100, 100, 100]


def test_a_personal_model_that_cannot_be_loaded_is_named_in_the_report_of_its_faces():
    damaged = Path("/models/anna.safetensors")
    anna, bob = person(1, "Anna", damaged), person(2, "Bob", None)

    def load(model):
        raise ModelError(f"{model.name} is damaged: its sha256 does not match manifest.sha256.")

    problems = unusable_personal_models([anna, bob], load, FailedModels())
    assert problems == {1: "the personal model of Anna cannot be used: anna.safetensors is damaged: its sha256 "
                           "does not match manifest.sha256; restored with the general model"}

    general = Restorer(ConstEngine("general", 0.5))
    passes = [RestorePass(None, (0, 1), (anna, None))]  # planned without the damaged model
    result = restore_faces(PHOTO, TWO_FACES, passes, lambda model: general, no_references, model_problems=problems)
    assert [f.model for f in result.faces] == ["general", "general"]
    assert result.faces[0].fallback == problems[1]
    assert result.faces[1].fallback is None and result.faces[1].person is None


def test_no_face_and_no_restorable_face_fail_the_photo_with_the_shared_sentences():
    general = Restorer(ConstEngine("general", 0.5))
    with pytest.raises(UserError, match="^no face found$"):
        restore_faces(PHOTO, [], [], lambda model: general, no_references)
    tiny = [face_at(10, 20), face_at(150, 20)]
    assert tiny[0].size < MIN_FACE
    with pytest.raises(NothingRestored) as failed:
        restore_faces(PHOTO, tiny, [RestorePass(None, (0, 1), (None, None))], lambda model: general, no_references)
    reason = f"too small to restore ({tiny[0].size:.0f} px; needs {MIN_FACE})"
    assert str(failed.value) == f"no face could be restored ({reason}; {reason})"
    assert [(f.restored, f.reference, f.fallback) for f in failed.value.faces] == [(False, "none", None)] * 2


def test_a_reference_photo_goes_to_the_face_it_belongs_to_and_the_others_are_their_own():
    engine = ConstEngine("general", 0.5)
    restorer = Restorer(engine, ListDetector(TWO_FACES))
    matcher = SimpleNamespace(face_for=lambda pixels, faces, reference: 1)
    result = restore_detected(PHOTO, restorer, reference=np.zeros((64, 64, 3), np.uint8), matcher=matcher)
    assert result.reference_used == ["self", "person"]
    assert engine.had_reference == [False, True]
    assert restore_detected(PHOTO, restorer).reference_used == ["self", "self"]
    with pytest.raises(UserError, match="^no face found$"):
        restore_detected(PHOTO, Restorer(engine, ListDetector([])))


def test_the_command_line_row_of_a_face_keeps_the_pipeline_report_keys_and_adds_model_and_identity():
    report = FaceReport(index=0, box=(1.0, 2.0, 3.0, 4.0), size=50.0, restored=True, reference="self", reason="r",
                        person="Anna", person_id=1, face_id=3, fallback="f", model_name="ented-lfw128")
    pipeline_keys = list(PipelineFaceReport(0, (1, 2, 3, 4), 50.0, True, "self", "r").to_dict())
    added = ["model", "identity_before", "identity_after", "moved_away", "notes"]
    assert list(report.json_row()) == pipeline_keys + added
    assert report.json_row()["model"] == "ented-lfw128" and report.json_row()["moved_away"] is None
    assert report.version_record() == {"index": 0, "face_id": 3, "person_id": 1, "person": "Anna", "restored": True,
                                       "reference": "self", "reason": "r", "model": "general", "fallback": "f",
                                       "detail_only": False, "model_name": "ented-lfw128", "identity_before": None,
                                       "identity_after": None, "moved_away": None, "notes": []}


def test_the_sentences_of_a_fallback_and_of_a_failed_photo():
    assert nothing_restored(["a", "b"]) == "no face could be restored (a; b)"
    assert personal_model_unusable("Anna", ModelError("Model file x does not exist.")) == (
        "the personal model of Anna cannot be used: Model file x does not exist; restored with the general model")
    assert reference_unusable("Bob", ImageReadError("The file is empty."), unreadable=True) == (
        "the reference photo of Bob cannot be read: The file is empty; restored without it")
    assert reference_unusable("Bob", UserError("No face was found."), unreadable=False) == (
        "the reference photo of Bob cannot be used: No face was found; restored without it")


def test_what_the_app_says_about_a_face_before_and_after_restoring():
    report = {"person": "Anna", "restored": True, "reference": "person", "model": "general", "fallback": None,
              "detail_only": False}
    assert face_outcome(report) == "Anna: restored with Anna's reference"
    assert face_outcome({**report, "model": "anna.safetensors"}) == (
        "Anna: restored with Anna's reference, with the personal model")
    assert face_outcome({**report, "person": None, "reference": "self"}) == (
        "Unnamed face: restored without a reference (the face served as its own reference)")
    assert face_outcome({**report, "fallback": "why"}) == "Anna: why"
    assert face_outcome({"restored": False, "reason": "too small"}) == "Unnamed face: not restored (too small)"
    anna = person(1, "Anna", Path("anna.safetensors"))
    face = SimpleNamespace(person_id=1)
    assert face_plan(face, {1: anna}) == ("Anna: no reference chosen yet, so restored without one (the face is its "
                                          "own reference), with the personal model")
    anna.reference_face_id = 5
    assert face_plan(face, {1: anna}) == "Anna: restored with Anna's reference, with the personal model"
    assert face_plan(SimpleNamespace(person_id=None), {}).startswith("unnamed: will be restored without")


def test_restore_settings_are_one_cache_key_per_model_and_setting():
    general = RestoreSettings(None, "onnx", "cpu", Path("/m"))
    assert general == RestoreSettings(None, "onnx", "cpu", Path("/m"))
    others = [RestoreSettings(Path("/m/anna.safetensors"), "onnx", "cpu", Path("/m")),
              RestoreSettings(None, "torch", "cpu", Path("/m")),
              RestoreSettings(None, "onnx", "cpu", Path("/m"), fidelity=0.7)]
    assert len({general, *others}) == 4


class _EmbedsBySize:
    """A stand-in identity model: a face's embedding is its size, the reference's is 20, as a 20 px face's."""

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        return np.float32([Face(box=(0, 0, 1, 1), landmarks=landmarks, score=1.0).size])

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        return np.float32([20.0])


def test_the_matcher_asks_the_identity_model_only_when_it_must_and_falls_back_to_the_largest_face():
    made = []
    photo, reference = np.zeros((300, 900, 3), np.uint8), np.zeros((64, 64, 3), np.uint8)
    big, other, tiny = face_at(0, 200), face_at(300, 100), face_at(500, 20)

    matcher = ReferenceMatcher(lambda: made.append(1) or _EmbedsBySize())
    assert matcher.face_for(photo, [big, tiny], reference) == 0  # one restorable face: no identity needed
    assert made == []
    assert matcher.face_for(photo, [other, big, tiny], reference) == 0  # 100 px is closer to 20 px than 200 px
    assert matcher.face_for(photo, [big, other], reference) == 1
    assert made == [1]  # made once
    assert ReferenceMatcher(lambda: None).face_for(photo, [big, other], reference) == 0  # not installed: the first


# -- which model restores which face, the identity check, and what a version records ---------------------------


def fake_install(model_dir: Path, name: str, architecture: str, purpose: str = "face") -> Path:
    """A file the model store lists as an installed third-party model (metadata and manifest line, no network)."""
    from safetensors.numpy import save_file

    from ented_desktop.core.engines.thirdparty import FORMAT
    from ented_desktop.core.weights import add_to_manifest

    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{name}.safetensors"
    save_file({"w": np.zeros(1, np.float32)}, str(path), metadata={
        "format": FORMAT, "architecture": architecture, "purpose": purpose,
        "resolution": "512" if purpose == "face" else "0", "scale": "1" if purpose == "face" else "2",
        "source_sha256": "0" * 64, "source_name": f"{name}.pth", "licence": "test", "licence_url": ""})
    add_to_manifest(path)
    return path


class FaceAloneEngine:
    """A stand-in third-party engine (restores from the face alone): paints every face ``value``."""

    name, device, resolution, uses_reference = "torch", "cpu", 512, False

    def __init__(self, model_name: str, value: float, fidelity: float | None = None) -> None:
        self.model_name, self.value, self.fidelity = model_name, value, fidelity

    def restore(self, lq: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.full_like(lq, self.value)


class FakeLoads:
    """Stands in for RestoreSettings.load: ENTED (model None or a personal model's file) paints faces grey, an
    installed third-party model white; records the settings each model was loaded with."""

    def __init__(self, faces: list[Face] | None = None) -> None:
        self.faces, self.loaded = faces or [], []

    def __call__(self, settings: RestoreSettings) -> Restorer:
        self.loaded.append(settings)
        if isinstance(settings.model, str):
            engine = FaceAloneEngine(settings.model, 1.0, settings.fidelity)
        else:
            engine = ConstEngine("ented" if settings.model is None else Path(settings.model).stem, 0.5)
            engine.uses_reference, engine.fidelity = True, None
        return Restorer(engine, ListDetector(self.faces))


def test_the_installed_model_for_large_faces_is_chosen_in_a_fixed_order(tmp_path):
    from ented_desktop.core.restore_plan import large_face_model

    models = tmp_path / "models"
    assert large_face_model(models) is None  # only the shipped ENTED: it restores every face
    fake_install(models, "realesrgan-x2plus", "realesrgan", purpose="background")
    for name, arch in (("rf", "restoreformer"), ("rfpp", "restoreformer++"), ("gfpgan-v1.4", "gfpgan")):
        fake_install(models, name, arch)
    assert large_face_model(models).name == "gfpgan-v1.4"
    fake_install(models, "zz-codeformer", "codeformer")
    fake_install(models, "a-codeformer", "codeformer")
    assert large_face_model(models).name == "a-codeformer"  # same architecture: by name
    (models / "manifest.sha256").write_text((models / "manifest.sha256").read_text().replace("a-codeformer", "x"))
    assert large_face_model(models).name == "zz-codeformer"  # not listed in the manifest: not used


def test_the_default_rule_restores_small_faces_with_ented_and_large_ones_with_the_512_model(tmp_path):
    fake_install(tmp_path / "models", "codeformer", "codeformer")
    small, large = face_at(10, 60), face_at(100, 150)
    assert small.size <= 64 < large.size  # ConstEngine's resolution is ENTED's here
    loads = FakeLoads([small, large])
    run = start_run(RestoreSettings(model_dir=tmp_path / "models"), cached_loader(loads))
    assert run.rule == ModelRule(large_faces="codeformer", covers=64.0)
    assert run.record["large_faces_model"] == "codeformer" and run.record["model"] == "ented-lfw128"
    photo = np.full((200, 300, 3), 100, np.uint8)

    result = restore_detected(photo, run.main, reference=np.zeros((64, 64, 3), np.uint8),
                              matcher=SimpleNamespace(face_for=lambda *_: 1), run=run)

    assert [(f.model_name, f.reference) for f in result.faces] == [("ented", "self"), ("codeformer", "unused")]
    assert "the person's reference was not used" in result.faces[1].reason
    assert result.models == ["ented", "codeformer"]
    assert result.pixels[40, 40].tolist() == [128] * 3 and result.pixels[100, 175].tolist() == [255] * 3
    forced = start_run(RestoreSettings(model="codeformer", model_dir=tmp_path / "models"), cached_loader(loads))
    assert [f.model_name for f in restore_detected(photo, forced.main, run=forced).faces] == ["codeformer"] * 2


def test_fidelity_goes_to_codeformer_and_is_refused_where_no_model_of_the_run_takes_it(tmp_path):
    models = tmp_path / "models"
    with pytest.raises(UserError, match="no 512 px face model is installed, so ENTED"):
        start_run(RestoreSettings(model_dir=models, fidelity=0.7), cached_loader(FakeLoads()))
    fake_install(models, "gfpgan", "gfpgan")
    with pytest.raises(UserError, match="gfpgan, the installed model for large faces, has no fidelity setting"):
        start_run(RestoreSettings(model_dir=models, fidelity=0.7), cached_loader(FakeLoads()))
    fake_install(models, "codeformer", "codeformer")
    loads = FakeLoads()
    run = start_run(RestoreSettings(model_dir=models, fidelity=0.7), cached_loader(loads))
    assert [(s.model, s.fidelity) for s in loads.loaded] == [(None, None), ("codeformer", 0.7)]
    assert run.record["fidelity"] == 0.7
    with pytest.raises(UserError, match="--background-model needs --background"):
        start_run(RestoreSettings(model_dir=models, background_model="x2"), cached_loader(FakeLoads()))


class BrightnessEmbedder:
    """A stand-in identity model: a face's embedding is its mean brightness."""

    def __init__(self) -> None:
        self.crops = 0

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        self.crops += 1
        return np.float32([crop.mean() / 255.0])


def test_the_identity_check_measures_both_distances_and_says_when_a_face_moved_away():
    from ented_desktop.core.identity_check import MOVED_AWAY_THRESHOLD, explain, judge

    photo = np.full((100, 260, 3), 100, np.uint8)
    reference = np.full((64, 64, 3), 110, np.uint8)  # looks like the original face (100), not like white
    embedder = BrightnessEmbedder()
    identity = IdentityChecks(lambda: embedder)
    passes = [RestorePass("codeformer", (0,), (None,)), RestorePass(None, (1,), (None,))]
    restorers = {"codeformer": Restorer(FaceAloneEngine("codeformer", 1.0, fidelity=0.5)),
                 None: Restorer(ConstEngine("ented", 100 / 255))}
    given = {0: reference, 1: None}

    def references(restore_pass, restorer):
        return [given[i] for i in restore_pass.faces], [None] * len(restore_pass.faces)

    result = restore_faces(photo, TWO_FACES, passes, restorers.__getitem__, references, identity=identity)
    moved, unchecked = result.faces
    assert moved.identity_before == pytest.approx(10 / 255, abs=1e-3)
    assert moved.identity_after > moved.identity_before + MOVED_AWAY_THRESHOLD and moved.moved_away is True
    check = judge(moved.identity_before, moved.identity_after)
    assert moved.notes == (explain(check, "the person", uses_reference=False, fidelity=0.5),)
    assert "looks less like the person" in moved.notes[0] and "higher fidelity" in moved.notes[0]
    assert moved.json_row()["identity_after"] == moved.identity_after and moved.json_row()["moved_away"] is True
    assert (unchecked.identity_before, unchecked.moved_away, unchecked.notes) == (None, None, ())  # no reference
    assert embedder.crops == 3  # the reference once, the face before and after

    made = []
    restore_faces(photo, TWO_FACES, passes[1:] + [RestorePass("codeformer", (0,), (None,))], restorers.__getitem__,
                  lambda p, r: ([None] * len(p.faces), [None] * len(p.faces)),
                  identity=IdentityChecks(lambda: made.append(1)))
    assert made == []  # no reference given: the embedder is not even made


def test_the_identity_check_takes_its_reference_from_identity_references_when_given():
    # The app checks every pass against a crop of one size, so "before" does not depend on the model that ran.
    photo = np.full((100, 260, 3), 100, np.uint8)
    passes = [RestorePass("codeformer", (0,), (None,))]
    restorer = Restorer(FaceAloneEngine("codeformer", 1.0, fidelity=0.5))
    model_crop, check_crop = np.full((64, 64, 3), 160, np.uint8), np.full((96, 96, 3), 100, np.uint8)

    def crops_of(crop):
        return lambda restore_pass, _restorer: ([crop] * len(restore_pass.faces), [None] * len(restore_pass.faces))

    (face,) = restore_faces(photo, TWO_FACES[:1], passes, lambda _m: restorer, crops_of(model_crop),
                            identity=IdentityChecks(BrightnessEmbedder), identity_references=crops_of(check_crop)).faces
    assert face.identity_before == pytest.approx(0.0, abs=1e-3)
    (face,) = restore_faces(photo, TWO_FACES[:1], passes, lambda _m: restorer, crops_of(model_crop),
                            identity=IdentityChecks(BrightnessEmbedder)).faces
    assert face.identity_before == pytest.approx(60 / 255, abs=1e-3)


def test_a_library_version_records_the_models_settings_and_identity_of_its_faces(tmp_path):
    from PIL import Image

    from ented_desktop.core.library import Library
    from ented_desktop.core.restore_plan import ReferenceCrops
    from ented_desktop.core.restore_skip import photo_record

    fake_install(tmp_path / "models", "codeformer", "codeformer")
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(np.full((200, 300, 3), 100, np.uint8)).save(folder / "p.png")
    library = Library(tmp_path / "lib")
    try:
        for _ in library.photos.import_paths(library.albums.create("family"), [str(folder)]):
            pass
        (photo,) = library.photos.all()
        small, large = face_at(10, 60), face_at(100, 150)
        face_ids = library.faces.record(photo.id, [small, large], [None, None], "test")
        anna = library.people.create("Anna", [face_ids[1]])
        library.references.set_face(anna, face_ids[1])
        run = start_run(RestoreSettings(model_dir=tmp_path / "models"), cached_loader(FakeLoads()))
        crops = ReferenceCrops(library, lambda image, detector, resolution: image)

        version_id, result = restore_library_photo(library, photo.id, run.restorer_for, crops, run=run,
                                                   identity=IdentityChecks(BrightnessEmbedder))

        version = library.versions.get(version_id)
        assert version.settings == photo_record(library, photo.id, run.record)
        assert {k: version.settings[k] for k in ("model", "engine", "fidelity", "large_faces_model", "background")} \
            == {"model": "ented-lfw128", "engine": "torch", "fidelity": None, "large_faces_model": "codeformer",
                "background": None}
        assert len(version.settings["model_sha256"]) == 64 and len(version.settings["large_faces_model_sha256"]) == 64
        assert [f["person"] for f in version.settings["faces"]] == [None, anna]
        assert library.versions.find_same(photo.id, photo_record(library, photo.id, run.record)).id == version_id
        faces = version.report["faces"]
        assert [(f["model_name"], f["reference"]) for f in faces] == [("ented", "self"), ("codeformer", "unused")]
        assert faces[0]["identity_before"] is None  # nobody's face: nothing to check against
        assert faces[1]["identity_before"] == pytest.approx(0.0, abs=0.02)  # its own face is the reference
        assert faces[1]["moved_away"] is True and faces[1]["notes"][0].startswith("The restored face looks less "
                                                                                  "like Anna")
        assert face_outcome(faces[1]).endswith(faces[1]["notes"][0])
        assert result.faces[1].person == "Anna"
    finally:
        library.close()


class NearestUpscaler:
    name, device, scale, model_name = "torch", "cpu", 2, "x2"

    def upscale(self, image: np.ndarray) -> np.ndarray:
        return image.repeat(2, axis=2).repeat(2, axis=3)


def test_a_library_photo_enlarged_2x_gets_its_faces_restored_at_twice_their_place(tmp_path):
    from dataclasses import replace

    from PIL import Image

    from ented_desktop.core.library import Library
    from ented_desktop.core.restore_plan import ReferenceCrops

    fake_install(tmp_path / "models", "codeformer", "codeformer")
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(np.full((100, 260, 3), 100, np.uint8)).save(folder / "p.png")
    library = Library(tmp_path / "lib")
    try:
        for _ in library.photos.import_paths(library.albums.create("family"), [str(folder)]):
            pass
        (photo,) = library.photos.all()
        library.faces.record(photo.id, [face_at(10, 40), face_at(150, 40)], [None, None], "test")
        run = start_run(RestoreSettings(model_dir=tmp_path / "models"), cached_loader(FakeLoads()))
        assert run.rule.covers == 64  # 40 px faces: ENTED's, but at twice their size they are CodeFormer's
        run = replace(run, settings=replace(run.settings, background="enlarge"), upscaler=NearestUpscaler())
        crops = ReferenceCrops(library, lambda image, detector, resolution: image)

        version_id, result = restore_library_photo(library, photo.id, run.restorer_for, crops, run=run)

        assert result.pixels.shape == (200, 520, 3)
        assert [f.model_name for f in result.faces] == ["codeformer", "codeformer"]
        assert [f.box for f in result.faces] == [(20.0, 20.0, 100.0, 100.0), (300.0, 20.0, 380.0, 100.0)]
        assert result.pixels[60, 60].tolist() == [255] * 3 and result.pixels[190, 200].tolist() == [100] * 3
    finally:
        library.close()
