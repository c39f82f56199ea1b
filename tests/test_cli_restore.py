"""`ented restore` as scripts use it: the contract, and every kind of bad input from the issue."""

import json
import os
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from ented_desktop.cli.main import main
from ented_desktop.core.face.align import template_for
from ented_desktop.core.face.detect import Face
from ented_desktop.core.paths import resources_dir
from ented_desktop.core.pipeline import MIN_FACE
from ented_desktop.core.reference_match import ReferenceMatcher
from tests.test_imageio import huge_bmp

SAMPLE = resources_dir() / "samples" / "astronaut.jpg"


@pytest.fixture
def model_args(tiny_model_dir):
    return ["--model", str(tiny_model_dir / "tiny.safetensors"), "--device", "cpu"]


def restore(args, capsys) -> tuple[int, dict | None, str]:
    code = main(["restore", *args, "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out) if captured.out.strip() else None
    return code, summary, captured.err


def sample_rgb() -> np.ndarray:
    return np.asarray(Image.open(SAMPLE).convert("RGB"))


def test_restores_a_photo_keeping_name_size_and_format(tmp_path, model_args, capsys):
    shutil.copy(SAMPLE, tmp_path / "in.jpg")
    Image.open(SAMPLE).save(tmp_path / "in2.png")
    code, summary, err = restore([str(tmp_path / "in.jpg"), str(tmp_path / "in2.png"), "-o",
                                  str(tmp_path / "out"), *model_args], capsys)
    assert code == 0, err
    out_jpg, out_png = tmp_path / "out" / "in.jpg", tmp_path / "out" / "in2.png"
    assert Image.open(out_jpg).format == "JPEG" and Image.open(out_png).format == "PNG"
    assert Image.open(out_jpg).size == (512, 512)
    row = summary["inputs"][0]
    assert row["faces_found"] == 1 and row["faces_restored"] == 1 and row["reference_used"] == ["self"]
    assert row["seconds"] > 0 and summary["restored"] == 2 and summary["failed"] == 0


def test_reference_and_pairs(tmp_path, model_args, capsys):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    shutil.copy(SAMPLE, tmp_path / "ref.jpg")
    code, summary, _ = restore([str(tmp_path / "a.jpg"), "--reference", str(tmp_path / "ref.jpg"), "-o",
                                str(tmp_path / "o1"), *model_args], capsys)
    assert code == 0 and summary["inputs"][0]["reference_used"] == ["person"]
    (tmp_path / "pairs.csv").write_text("input,reference\na.jpg,ref.jpg\n")
    code, summary, _ = restore(["--pairs", str(tmp_path / "pairs.csv"), "-o", str(tmp_path / "o2"), *model_args],
                               capsys)
    assert code == 0 and summary["inputs"][0]["reference"].endswith("ref.jpg")
    assert (tmp_path / "o2" / "a.jpg").exists()


def test_aligned_crops_of_any_square_size(tmp_path, model_args, capsys):
    Image.fromarray(sample_rgb()[100:300, 150:350]).save(tmp_path / "face.png")
    code, summary, err = restore([str(tmp_path / "face.png"), "--aligned", "-o", str(tmp_path / "o"), *model_args],
                                 capsys)
    assert code == 0, err
    assert Image.open(tmp_path / "o" / "face.png").size == (200, 200)


def test_folders_are_walked_and_keep_their_subfolders(tmp_path, model_args, capsys):
    (tmp_path / "album" / "1952").mkdir(parents=True)
    shutil.copy(SAMPLE, tmp_path / "album" / "1952" / "x.jpg")
    shutil.copy(SAMPLE, tmp_path / "album" / "x.jpg")
    code, _, err = restore([str(tmp_path / "album"), "-o", str(tmp_path / "o"), *model_args], capsys)
    assert code == 0, err
    assert (tmp_path / "o" / "x.jpg").exists() and (tmp_path / "o" / "1952" / "x.jpg").exists()


def test_an_input_is_never_overwritten(tmp_path, model_args, capsys):
    Image.open(SAMPLE).save(tmp_path / "p.png")
    before = (tmp_path / "p.png").read_bytes()
    code, summary, err = restore([str(tmp_path / "p.png"), "-o", str(tmp_path), *model_args], capsys)
    assert code == 1 and "overwrite an input" in err
    assert (tmp_path / "p.png").read_bytes() == before


def test_no_output_replaces_another_input_or_a_file_beside_the_inputs(tmp_path, model_args, capsys):
    scans = tmp_path / "scans"
    scans.mkdir()
    Image.open(SAMPLE).save(scans / "grandma.png")
    Image.open(SAMPLE).save(scans / "grandma.tif")  # its output would be scans/grandma.png, another input
    Image.open(SAMPLE).save(scans / "uncle.bmp")
    Image.open(SAMPLE).save(scans / "uncle.png")  # not an input, but an original beside one
    originals = {p.name: p.read_bytes() for p in scans.iterdir()}
    code, summary, err = restore([str(scans / "grandma.png"), str(scans / "grandma.tif"), str(scans / "uncle.bmp"),
                                  "-o", str(scans), *model_args], capsys)
    assert code == 1 and summary["restored"] == 0 and summary["failed"] == 3
    assert "overwrite an input" in err and "already exists beside the photos" in err
    assert {p.name: p.read_bytes() for p in scans.iterdir()} == originals


def test_folder_walks_skip_hidden_files_and_their_own_outdir(tmp_path, model_args, capsys):
    album = tmp_path / "album"
    album.mkdir()
    shutil.copy(SAMPLE, album / "x.jpg")
    (album / "._x.jpg").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    args = [str(album), "-o", str(album / "restored"), *model_args]
    code, summary, err = restore(args, capsys)
    assert code == 0, err
    assert [row["input"] for row in summary["inputs"]] == [str(album / "x.jpg")]
    first = (album / "restored" / "x.jpg").read_bytes()
    code, summary, err = restore(args, capsys)  # again: the earlier output is replaced, not restored as an input
    assert code == 0, err
    assert summary["restored"] == 1 and not (album / "restored" / "restored").exists()
    assert (album / "restored" / "x.jpg").read_bytes() == first


def test_only_an_unchanged_output_of_an_earlier_run_is_replaced(tmp_path, model_args, capsys):
    album = tmp_path / "album"
    (album / "1952").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(SAMPLE, album / name)
    Image.open(SAMPLE).rotate(90).save(album / "1952" / "a.jpg")  # the user's photo, where OUTDIR is chosen
    kept = (album / "1952" / "a.jpg").read_bytes()
    args = [str(album), "-o", str(album / "1952"), *model_args]
    code, summary, err = restore(args, capsys)
    assert code == 1 and summary["restored"] == 2
    assert "1952/a.jpg already exists and is not an unchanged output of an earlier ented restore" in err
    assert (album / "1952" / "a.jpg").read_bytes() == kept
    (album / "1952" / "c.jpg").write_bytes(SAMPLE.read_bytes())  # the user replaced an output since
    code, summary, err = restore(args, capsys)
    assert code == 1 and [row["input"] for row in summary["inputs"] if "error" not in row] == [str(album / "b.jpg")]
    assert (album / "1952" / "a.jpg").read_bytes() == kept and (album / "1952" / "c.jpg").read_bytes() == \
        SAMPLE.read_bytes()
    log = json.loads((album / "1952" / ".ented-restore.json").read_text())
    assert sorted(log["files"]) == ["b.jpg", "c.jpg"]


def _bad_inputs(folder: Path) -> dict[str, Path]:
    rgb = sample_rgb()
    files = {}
    files["zero"] = folder / "zero.jpg"
    files["zero"].write_bytes(b"")
    data = SAMPLE.read_bytes()
    files["truncated"] = folder / "truncated.jpg"
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["corrupt"] = folder / "corrupt.png"
    files["corrupt"].write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    files["text"] = folder / "notes.jpg"
    files["text"].write_text("this is not a photo")
    files["huge"] = folder / "huge.bmp"  # a header that claims 20000 x 20000 pixels
    files["huge"].write_bytes(huge_bmp())
    files["noface"] = folder / "noface.png"
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(files["noface"])
    files["cmyk"] = folder / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(files["cmyk"])
    files["gray"] = folder / "gray.jpg"
    Image.fromarray(rgb).convert("L").save(files["gray"])
    files["palette"] = folder / "palette.png"
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(files["palette"])
    files["alpha"] = folder / "alpha.png"
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])).save(files["alpha"])
    files["deep"] = folder / "deep.png"
    Image.fromarray(rgb[..., 1].astype(np.uint16) * 257).save(files["deep"])  # 16-bit grayscale
    rotated = Image.fromarray(np.ascontiguousarray(np.rot90(rgb)))  # stored sideways, EXIF says rotate back
    exif = Image.Exif()
    exif[0x0112] = 8
    files["rotated"] = folder / "rotated.jpg"
    rotated.save(files["rotated"], exif=exif)
    unicode_dir = folder / "Großmutter 1952"
    unicode_dir.mkdir()
    files["unicode"] = unicode_dir / "été photo.jpg"
    shutil.copy(SAMPLE, files["unicode"])
    return files


def test_bad_inputs_fail_clearly_and_the_batch_goes_on(tmp_path, model_args, capsys):
    files = _bad_inputs(tmp_path)
    out = tmp_path / "out put"
    code, summary, err = restore([*(str(p) for p in files.values()), "-o", str(out), *model_args], capsys)
    assert code == 1
    rows = {Path(r["input"]).name: r for r in summary["inputs"]}
    expected_failures = {"zero.jpg": "empty", "truncated.jpg": "", "corrupt.png": "", "notes.jpg": "",
                         "huge.bmp": "megapixel", "noface.png": "no face"}
    for name, words in expected_failures.items():
        assert "error" in rows[name], name
        assert words in rows[name]["error"].lower(), rows[name]["error"]
        assert f"{name}:" in err  # one line per failed input
    for name in ("cmyk.jpg", "gray.jpg", "palette.png", "alpha.png", "deep.png", "rotated.jpg", "été photo.jpg"):
        assert "error" not in rows[name], rows[name]
        assert rows[name]["faces_restored"] >= 1, name
    assert Image.open(out / "gray.jpg").mode == "L"
    deep = Image.open(out / "deep.png")
    assert deep.mode.startswith("I") and np.asarray(deep).max() > 255  # still 16-bit
    rotated = Image.open(out / "rotated.jpg")
    assert rotated.size == (512, 512) and rotated.getexif().get(0x0112, 1) == 1
    # Nothing half-written: only finished outputs and the log of them, no temporary files.
    written = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert not [n for n in written if n.startswith(".") and n != ".ented-restore.json" or n.endswith(".tmp")]
    assert "zero.jpg" not in written and "zero.png" not in written


def test_unwritable_output_folder(tmp_path, model_args, capsys):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    for outdir in (blocker / "out", blocker):
        code, summary, err = restore([str(tmp_path / "a.jpg"), "-o", str(outdir), *model_args], capsys)
        assert code == 1 and "a.jpg:" in err
        assert "output folder" in summary["inputs"][0]["error"] and "is a file" in summary["inputs"][0]["error"]


def test_no_installed_model_is_refused(tmp_path, capsys, no_shipped_model):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    code = main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"), "--model-dir", str(tmp_path)])
    assert code == 2 and "untrained" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_unknown_detector_is_a_usage_error(tmp_path, model_args, capsys):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    with pytest.raises(SystemExit) as exit_info:
        main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"), "--detector", "nope", *model_args])
    assert exit_info.value.code == 2 and "--detector" in capsys.readouterr().err


@pytest.mark.parametrize("data", [b"input,reference\n\xe9t\xe9.jpg,ref.jpg\n",  # Windows-1252, as Excel saves it
                                  "input,reference\n".encode("utf-16"),
                                  "a.jpg,ref.jpg\n".encode("utf-16-le"),  # no BOM: NUL bytes in valid UTF-8
                                  b"\xff\xd8\xff\xe0 a photo given as --pairs"])
def test_a_pairs_file_that_is_not_utf8_text_is_a_usage_error(tmp_path, capsys, data):
    (tmp_path / "pairs.csv").write_bytes(data)
    code = main(["restore", "--pairs", str(tmp_path / "pairs.csv"), "-o", str(tmp_path / "o")])
    assert code == 2 and "UTF-8" in capsys.readouterr().err


def test_pairs_name_a_missing_file_in_the_csv_folder(tmp_path, model_args, capsys):
    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "ref.jpg")
    (folder / "pairs.csv").write_text("gone.jpg,ref.jpg\n")
    code, summary, err = restore(["--pairs", str(folder / "pairs.csv"), "-o", str(tmp_path / "o"), *model_args],
                                 capsys)
    assert code == 1 and summary["inputs"][0]["input"] == str(folder / "gone.jpg")
    assert str(folder / "gone.jpg") in err  # where the README says it was looked for, not a bare "gone.jpg"


@pytest.mark.parametrize(("kind", "words"), [("missing", "does not exist"), ("text", "not a jpeg"),
                                             ("no face", "no face")])
def test_a_reference_that_cannot_be_used_is_a_usage_error(tmp_path, model_args, capsys, kind, words):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    shutil.copy(SAMPLE, tmp_path / "b.jpg")
    ref = tmp_path / "ref.png"
    if kind == "text":
        ref.write_text("not a photo")
    elif kind == "no face":
        Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(ref)
    code, summary, err = restore([str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "--reference", str(ref),
                                  "-o", str(tmp_path / "o"), *model_args], capsys)
    assert code == 2 and summary is None  # once, for the run, like a missing --pairs file; not once per input
    assert err.count("ented:") == 1 and words in err.lower()
    assert not (tmp_path / "o").exists()


def test_a_photo_named_twice_is_restored_once(tmp_path, model_args, capsys):
    album = tmp_path / "album"
    album.mkdir()
    shutil.copy(SAMPLE, album / "x.jpg")
    code, summary, err = restore([str(album), str(album / "x.jpg"), str(album / "x.jpg"), "-o", str(tmp_path / "o"),
                                  *model_args], capsys)
    assert code == 0, err  # was "another input (album/x.jpg) already writes o/x.jpg", exit 1
    assert summary["restored"] == 1 and len(summary["inputs"]) == 1


def test_a_reference_is_never_overwritten(tmp_path, model_args, capsys):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(SAMPLE, tmp_path / "me.jpg")
    shutil.copy(SAMPLE, out / "me.jpg")  # the reference, where the output would go
    before = (out / "me.jpg").read_bytes()
    code, summary, err = restore([str(tmp_path / "me.jpg"), "--reference", str(out / "me.jpg"), "-o", str(out),
                                  *model_args], capsys)
    assert code == 1 and "would overwrite an input or a reference" in err
    assert (out / "me.jpg").read_bytes() == before


def test_stderr_holds_one_line_per_failed_input_when_it_is_not_a_terminal(tmp_path, model_args, capsys):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_text("not a photo")
    code, _, err = restore([str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "-o", str(tmp_path / "o"),
                            *model_args], capsys)
    lines = err.splitlines()  # a progress bar's carriage returns would count as lines too
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"ented: {tmp_path / 'b.jpg'}: "), lines


def test_the_onnx_engine_takes_the_onnx_file_as_model(tmp_path, tiny_model_dir, capsys):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    code, summary, err = restore([str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"), "--engine", "onnx",
                                  "--model", str(tiny_model_dir / "tiny.onnx"), "--device", "cpu"], capsys)
    assert code == 0, err  # was refused: "tiny.onnx was not exported from the weights beside it"
    assert summary["engine"] == "onnx" and summary["restored"] == 1 and summary["device"] == "cpu"


def test_the_torch_engine_given_an_onnx_file_says_to_use_the_onnx_engine(tmp_path, tiny_model_dir, capsys):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    code = main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"),
                 "--model", str(tiny_model_dir / "tiny.onnx"), "--device", "cpu"])
    assert code == 2 and "--engine onnx" in capsys.readouterr().err  # was "not a readable safetensors file"


def test_json_counts_the_faces_found_when_none_could_be_restored(tmp_path, model_args, capsys):
    Image.open(SAMPLE).resize((64, 64), Image.Resampling.LANCZOS).save(tmp_path / "small.png")  # a ~20 px face
    code, summary, err = restore([str(tmp_path / "small.png"), "-o", str(tmp_path / "o"), *model_args], capsys)
    row = summary["inputs"][0]
    assert code == 1 and "too small" in row["error"] and row["output"] is None
    assert row["faces_found"] == 1 and row["faces_restored"] == 0  # faces_found said 0
    assert not (tmp_path / "o" / "small.png").exists()


def test_aligned_with_a_reference_that_is_not_a_square_crop_is_a_usage_error(tmp_path, model_args, capsys):
    Image.fromarray(sample_rgb()[100:300, 150:350]).save(tmp_path / "face.png")
    Image.fromarray(sample_rgb()[100:300, 150:400]).save(tmp_path / "ref.png")
    code, summary, err = restore([str(tmp_path / "face.png"), "--aligned", "--reference", str(tmp_path / "ref.png"),
                                  "-o", str(tmp_path / "o"), *model_args], capsys)
    assert code == 2 and summary is None and "square" in err


def tiff_with_a_metadata_warning(path: Path) -> None:
    """The sample as a TIFF whose Compression tag has two values, for which Pillow warns and reads on."""
    Image.open(SAMPLE).save(path)
    data = bytearray(path.read_bytes())
    ifd = int.from_bytes(data[4:8], "little")
    for entry in range(ifd + 2, ifd + 2 + 12 * int.from_bytes(data[ifd:ifd + 2], "little"), 12):
        if int.from_bytes(data[entry:entry + 2], "little") == 259:
            data[entry + 4:entry + 8] = (2).to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_notes_on_a_restored_photos_metadata_go_in_its_json_row_not_stderr(tmp_path, model_args, capsys, caplog):
    Image.open(SAMPLE).save(tmp_path / "exif.jpg", exif=b"Exif\x00\x00not a TIFF structure")
    gray_profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    gray_profile[16:20] = b"GRAY"  # a grayscale profile on a colour photo cannot be embedded in its output
    Image.open(SAMPLE).save(tmp_path / "icc.jpg", icc_profile=bytes(gray_profile))
    tiff_with_a_metadata_warning(tmp_path / "tags.tif")
    shutil.copy(SAMPLE, tmp_path / "plain.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escapes would be printed on stderr
        code, summary, err = restore([str(tmp_path / n) for n in ("exif.jpg", "icc.jpg", "tags.tif", "plain.jpg")]
                                     + ["-o", str(tmp_path / "o"), *model_args], capsys)
    assert code == 0 and err == "" and not caplog.records  # stderr and logging are for failed inputs only
    notes = {Path(r["input"]).name: r["notes"] for r in summary["inputs"]}
    assert len(notes["exif.jpg"]) == 1 and "EXIF" in notes["exif.jpg"][0]
    assert len(notes["icc.jpg"]) == 1 and "ICC profile" in notes["icc.jpg"][0]
    assert len(notes["tags.tif"]) == 1 and "tag 259" in notes["tags.tif"][0]
    assert notes["plain.jpg"] == []


class _EmbedsBySize:
    """A stand-in identity model: a face's embedding is its size, the reference's is 20, as a 20 px face's."""

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        return np.float32([Face(box=(0, 0, 1, 1), landmarks=landmarks, score=1.0).size])

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        return np.float32([20.0])


def face_of_size(size: float, x: float) -> Face:
    return Face(box=(x, 0, x + size, size), landmarks=template_for(512) * (size / 512) + np.float32([x, 0]),
                score=1.0)


def test_the_reference_goes_to_a_face_that_will_be_restored():
    matcher = ReferenceMatcher(_EmbedsBySize)  # as when the identity model is installed
    photo, reference = np.zeros((300, 900, 3), np.uint8), np.zeros((64, 64, 3), np.uint8)
    big, other, tiny = face_of_size(200, 0), face_of_size(100, 300), face_of_size(20, 500)
    assert tiny.size < MIN_FACE <= other.size
    # The tiny face looks most like the reference, but is too small to restore: the closest restorable one gets it.
    assert matcher.face_for(photo, [big, other, tiny], reference) == 1  # was 2, and the reference went unused
    # No face will be restored: the closest of all, as before.
    assert matcher.face_for(photo, [face_of_size(25, 0), tiny], reference) == 1


def test_jfif_and_jpe_files_are_jpegs_like_jpg(tmp_path, model_args, capsys):
    album = tmp_path / "album"
    album.mkdir()
    shutil.copy(SAMPLE, album / "a.jfif")
    shutil.copy(SAMPLE, tmp_path / "b.JPE")
    code, summary, err = restore([str(album), str(tmp_path / "b.JPE"), "-o", str(tmp_path / "o"), *model_args],
                                 capsys)
    assert code == 0 and summary["restored"] == 2, err  # the folder walk skipped a.jfif
    for name in ("a.jfif", "b.JPE"):  # b.JPE, given by name, became b.png
        assert Image.open(tmp_path / "o" / name).format == "JPEG"


# -- --model, --fidelity, the default rule, the identity check and the background --------------------------------


def two_sized_faces(path: Path) -> Path:
    """The sample (a 175 px face) beside a smaller copy of it (a 71 px face), on grey."""
    canvas = Image.new("RGB", (768, 512), (90, 90, 90))
    canvas.paste(Image.open(SAMPLE).convert("RGB"), (0, 0))
    canvas.paste(Image.open(SAMPLE).convert("RGB").resize((224, 224), Image.Resampling.LANCZOS), (528, 140))
    canvas.save(path)
    return path


class InvertingCodeFormer:
    """Stands in for an installed CodeFormer (512 px, restores from the face alone): inverts the face."""

    name, device, resolution, model_name, uses_reference = "torch", "cpu", 512, "codeformer", False

    def __init__(self, fidelity):
        self.fidelity = 0.5 if fidelity is None else fidelity

    def restore(self, lq, ref):
        return 1.0 - lq


class MeanEmbedder:
    """Stands in for the identity embedder: an aligned face's embedding is its mean brightness."""

    def embed_aligned(self, crop):
        return np.float32([crop.mean() / 255.0])

    def embed(self, image, landmarks):
        from ented_desktop.core.face.align import align_face

        return self.embed_aligned(align_face(image, landmarks, 128)[0])


@pytest.fixture
def fake_codeformer(monkeypatch):
    """A CodeFormer installed in the user model directory, whose engine is InvertingCodeFormer; the fidelity each
    load asked for is recorded."""
    from ented_desktop.core.pipeline import Restorer
    from ented_desktop.core.restore_job import RestoreSettings
    from ented_desktop.core.restore_plan import large_face_model
    from tests.test_restore_job import fake_install

    fake_install(Path(os.environ["ENTED_MODEL_DIR"]), "codeformer", "codeformer")
    assert large_face_model().name == "codeformer"
    real_load, fidelities = RestoreSettings.load, []

    def load(settings):
        if settings.model != "codeformer":
            return real_load(settings)
        fidelities.append(settings.fidelity)
        ented = real_load(replace(settings, model=None, fidelity=None))
        return Restorer(InvertingCodeFormer(settings.fidelity), ented.detector)

    monkeypatch.setattr(RestoreSettings, "load", load)
    monkeypatch.setattr("ented_desktop.cli.cmd_restore.offline_embedder", MeanEmbedder)
    return fidelities


def test_by_default_small_faces_go_to_ented_and_large_ones_to_the_installed_512_model(tmp_path, capsys,
                                                                                     fake_codeformer):
    photo = two_sized_faces(tmp_path / "two.png")
    code, summary, err = restore([str(photo), "--reference", str(SAMPLE), "--fidelity", "0.3", "--device", "cpu",
                                  "-o", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert fake_codeformer == [0.3]  # the fidelity went to CodeFormer, and only to it
    assert (summary["model"], summary["large_faces_model"], summary["fidelity"]) == ("ented-lfw128", "codeformer",
                                                                                    0.3)
    large, small = summary["inputs"][0]["faces"]
    assert (large["model"], large["reference"]) == ("codeformer", "unused")
    assert (small["model"], small["reference"]) == ("ented-lfw128", "self")
    assert summary["inputs"][0]["reference_used"] == ["unused", "self"]
    assert "the person's reference was not used" in large["reason"]
    # The reference photo is the large face's: checked against it, and inverting it moved it away.
    assert large["identity_before"] < 0.05 and large["identity_after"] > large["identity_before"] + 0.06
    assert large["moved_away"] is True and len(large["notes"]) == 1
    assert large["notes"][0].startswith("The restored face looks less like the person than the original did")
    assert "Try a higher fidelity setting (now 0.30" in large["notes"][0]
    assert (small["identity_before"], small["identity_after"], small["moved_away"], small["notes"]) == (
        None, None, None, [])  # not the reference's face
    assert Image.open(tmp_path / "o" / "two.png").size == (768, 512)


def test_model_forces_one_model_for_every_face(tmp_path, capsys, fake_codeformer):
    photo = two_sized_faces(tmp_path / "two.png")
    code, summary, err = restore([str(photo), "--model", "codeformer", "--device", "cpu", "-o", str(tmp_path / "o")],
                                 capsys)
    assert code == 0, err
    assert summary["model"] == "codeformer" and summary["large_faces_model"] is None and summary["fidelity"] == 0.5
    assert [f["model"] for f in summary["inputs"][0]["faces"]] == ["codeformer", "codeformer"]
    assert [f["identity_before"] for f in summary["inputs"][0]["faces"]] == [None, None]  # no reference: no check


def test_fidelity_is_refused_where_no_model_takes_it(tmp_path, capsys, model_args):
    shutil.copy(SAMPLE, tmp_path / "a.jpg")
    code = main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"), *model_args, "--fidelity", "0.5"])
    assert code == 2 and "--fidelity applies to CodeFormer only; ENTED has no fidelity setting" in \
        capsys.readouterr().err
    code = main(["restore", str(tmp_path / "a.jpg"), "-o", str(tmp_path / "o"), "--fidelity", "0.5"])
    assert code == 2 and "no 512 px face model is installed, so ENTED" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


class NearestUpscaler:
    name, device, scale, model_name = "torch", "cpu", 2, "realesrgan-x2plus"

    def upscale(self, image):
        return image.repeat(2, axis=2).repeat(2, axis=3)


def test_the_background_is_cleaned_or_enlarged_with_the_faces_on_top(tmp_path, capsys, model_args, monkeypatch):
    from tests.test_restore_job import fake_install

    fake_install(Path(os.environ["ENTED_MODEL_DIR"]), "realesrgan-x2plus", "realesrgan", purpose="background")
    monkeypatch.setattr("ented_desktop.core.background.load_upscaler", lambda *a, **k: NearestUpscaler())
    Image.open(SAMPLE).save(tmp_path / "a.png")
    code, plain, err = restore([str(tmp_path / "a.png"), "-o", str(tmp_path / "plain"), *model_args], capsys)
    assert code == 0 and plain["background"] is None, err
    for mode, size in (("clean", 512), ("enlarge", 1024)):
        code, summary, err = restore([str(tmp_path / "a.png"), "--background", mode, "-o", str(tmp_path / mode),
                                      *model_args], capsys)
        assert code == 0, err
        assert summary["background"] == mode and Image.open(tmp_path / mode / "a.png").size == (size, size)
        (face,) = summary["inputs"][0]["faces"]
        (before,) = plain["inputs"][0]["faces"]
        assert face["box"] == pytest.approx([v * size / 512 for v in before["box"]])  # in the output's pixels
    code = main(["restore", str(tmp_path / "a.png"), "--aligned", "--background", "clean", "-o", str(tmp_path / "x"),
                 *model_args])
    assert code == 2 and "--background works on whole photos" in capsys.readouterr().err
    code = main(["restore", str(tmp_path / "a.png"), "--background-model", "realesrgan-x2plus", "-o",
                 str(tmp_path / "x"), *model_args])
    assert code == 2 and "--background-model needs --background" in capsys.readouterr().err


@pytest.mark.slow
def test_a_random_weight_codeformer_file_restores_through_the_command_line(tmp_path, capsys):
    from tests.upstream_files import install_as_thirdparty, write_upstream_file

    upstream = write_upstream_file("codeformer", tmp_path)
    install_as_thirdparty(upstream, Path(os.environ["ENTED_MODEL_DIR"]), "codeformer")
    upstream.unlink()
    photo = two_sized_faces(tmp_path / "two.png")
    code, summary, err = restore([str(photo), "--fidelity", "0.7", "--device", "cpu", "-o", str(tmp_path / "o")],
                                 capsys)
    assert code == 0, err
    assert summary["large_faces_model"] == "codeformer" and summary["fidelity"] == 0.7
    assert [(f["model"], f["reference"]) for f in summary["inputs"][0]["faces"]] == [
        ("codeformer", "unused"), ("ented-lfw128", "self")]
    code = main(["restore", str(photo), "--model", "codeformer", "--fidelity", "1.5", "-o", str(tmp_path / "x")])
    assert code == 2 and "between 0 (quality) and 1 (fidelity)" in capsys.readouterr().err
