"""The remembered view: round trip, odd values ignored one by one, damaged files ignored."""

from ented_desktop.core.view_state import ViewState, load_view_state, save_view_state


def test_round_trip(tmp_path):
    state = ViewState(geometry=(10, 20, 900, 700), maximized=True, album_id=3, tab=2)
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
    path.write_text('{"geometry": [1, 2, 0, 5], "maximized": "yes", "album_id": 3, "tab": -1, "unknown": 1}')
    assert load_view_state(path) == ViewState(album_id=3)

