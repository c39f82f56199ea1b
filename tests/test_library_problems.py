import pytest

from ented_desktop.core.library import ImportProblem, Library


@pytest.fixture
def lib(tmp_path):
    library = Library(tmp_path / "lib")
    yield library
    library.close()


def listed(lib):
    return [(p.path, p.reason, p.source) for p in lib.problems.all()]


def test_problems_are_kept_until_dismissed_and_survive_a_restart(tmp_path):
    with Library(tmp_path / "lib") as lib:
        ids = lib.problems.add([ImportProblem("/p/a.jpg", "the file is damaged"),
                                ImportProblem("/p/b.heic", "HEIC is not supported")], "Holiday")
        lib.problems.add([("c.jpg", "permission denied")], "face detection")
    with Library(tmp_path / "lib") as lib:
        assert listed(lib) == [("/p/a.jpg", "the file is damaged", "Holiday"),
                               ("/p/b.heic", "HEIC is not supported", "Holiday"),
                               ("c.jpg", "permission denied", "face detection")]
        lib.problems.dismiss([ids[0], 999])
        assert [p.path for p in lib.problems.all()] == ["/p/b.heic", "c.jpg"]
        lib.problems.clear()
        assert lib.problems.all() == []


def test_a_problem_found_again_is_listed_once_and_moves_to_the_end(lib, monkeypatch):
    clock = iter(range(100))
    monkeypatch.setattr("ented_desktop.core.library.problems.now", lambda: float(next(clock)))
    first = lib.problems.add([("/p/a.jpg", "damaged"), ("/p/b.jpg", "damaged")], "Holiday")
    again = lib.problems.add([("/p/a.jpg", "damaged"), ("/p/a.jpg", "too large")], "Holiday again")
    assert again[0] == first[0] and again[1] not in first
    assert listed(lib) == [("/p/b.jpg", "damaged", "Holiday"), ("/p/a.jpg", "damaged", "Holiday again"),
                           ("/p/a.jpg", "too large", "Holiday again")]


def test_a_dismissed_problem_id_is_not_given_again(lib):
    (old,) = lib.problems.add([("/p/a.jpg", "damaged")])
    lib.problems.dismiss([old])
    (new,) = lib.problems.add([("/p/a.jpg", "damaged")])
    assert new > old
