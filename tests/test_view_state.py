"""The remembered view: round trip, odd values ignored one by one, damaged files ignored."""

from pathlib import Path

from ented_desktop.gui.view_state import ViewState, load_view_state, save_view_state, start_folder


def test_round_trip(tmp_path):
    state = ViewState(geometry=(10, 20, 900, 700), maximized=True, album_id=3, tab=2,
                      folders={"import": "/photos"})
    save_view_state(state, tmp_path / "sub" / "view_state.json")
    assert load_view_state(tmp_path / "sub" / "view_state.json") == state


def test_missing_or_damaged_file_gives_the_defaults(tmp_path):
    assert load_view_state(tmp_path / "none.json") == ViewState()
    (tmp_path / "bad.json").write_bytes(b"\xff{not json")
    assert load_view_state(tmp_path / "bad.json") == ViewState()
    (tmp_path / "list.json").write_text("[1, 2]")
    assert load_view_state(tmp_path / "list.json") == ViewState()


def test_invalid_values_keep_their_defaults_and_the_valid_ones_are_used(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"geometry": [1, 2, 0, 5], "maximized": "yes", "album_id": 3, "tab": -1, "unknown": 1, '
                    '"folders": {"import": "/p", "reference": 4, "export": ""}}')
    assert load_view_state(path) == ViewState(album_id=3, folders={"import": "/p"})


def test_start_folder_falls_back_to_home_when_the_folder_is_gone(tmp_path):
    assert start_folder({"import": str(tmp_path)}, "import") == str(tmp_path)
    assert start_folder({"import": str(tmp_path / "gone")}, "import") == str(Path.home())
    assert start_folder({}, "reference") == str(Path.home())
