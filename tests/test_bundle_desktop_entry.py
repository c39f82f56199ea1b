"""The desktop entry: written and removed only when asked, under a throwaway XDG_DATA_HOME, with the MIME types of
the formats core/imageio reads and an Exec line a launcher can split back into the command."""

import shlex

import pytest

from ented_desktop.core import desktop_entry, paths
from ented_desktop.core.imageio import SUPPORTED_SUFFIXES


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def read_entry_text(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def read_entry(path):
    return read_entry_text(path.read_text(encoding="utf-8"))


def test_install_writes_entry_and_icon_and_uninstall_removes_them(data_home, capsys):
    from ented_desktop.gui import app as app_module

    assert app_module.main(["ented-desktop", "--install-desktop-entry"]) == 0
    entry = data_home / "applications" / "ented-desktop.desktop"
    icon = data_home / "icons" / "hicolor" / "scalable" / "apps" / "ented-desktop.svg"
    assert capsys.readouterr().out.splitlines() == [f"wrote {entry}", f"wrote {icon}"]
    assert icon.read_bytes() == (paths.resources_dir() / "icons" / "app.svg").read_bytes()
    fields = read_entry(entry)
    assert entry.read_text(encoding="utf-8").startswith("[Desktop Entry]\n")
    assert fields["Type"] == "Application" and fields["Icon"] == "ented-desktop" and fields["Terminal"] == "false"
    assert fields["Exec"].endswith(" %F")
    assert fields["MimeType"] == "image/bmp;image/jpeg;image/png;image/tiff;image/webp;"

    assert app_module.main(["ented-desktop", "--uninstall-desktop-entry"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"removed {entry}", f"removed {icon}"]
    assert not entry.exists() and not icon.exists()
    assert app_module.main(["ented-desktop", "--uninstall-desktop-entry"]) == 0
    assert capsys.readouterr().out.strip() == "no desktop entry was installed"


def test_every_format_imageio_reads_has_a_mime_type():
    assert set(desktop_entry.MIME_TYPES) >= SUPPORTED_SUFFIXES
    assert desktop_entry.mime_types() == sorted(set(desktop_entry.mime_types()))


def test_data_home_falls_back_to_local_share_for_unset_or_relative(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    assert desktop_entry.data_home() == tmp_path / ".local" / "share"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert desktop_entry.data_home() == tmp_path / ".local" / "share"


@pytest.mark.parametrize(("argument", "written"), [
    ("/usr/bin/ented-desktop", "/usr/bin/ented-desktop"),
    ("/opt/ENTED Desktop/ented-desktop", '"/opt/ENTED Desktop/ented-desktop"'),
    ('/a/$x"b', '"/a/\\\\$x\\\\"b"'),     # quoted, escaped for Exec, then each backslash doubled for the string
    ("/50%/x", "/50%%/x"),
])
def test_exec_arguments_are_quoted_as_the_spec_says(argument, written):
    assert desktop_entry.quote_exec_argument(argument) == written


def test_a_launcher_splits_the_exec_line_back_into_the_command():
    command = ["/opt/ENTED Desktop/ented-desktop", "-m", "x"]
    exec_line = read_entry_text(desktop_entry.entry_text(command, ["image/png"]))["Exec"]
    # The string escapes first (\\ -> \), then the Exec quoting, which is the shell's for these characters.
    unescaped = exec_line.replace("\\\\", "\\")
    assert shlex.split(unescaped) == [*command, "%F"]


def test_an_unwritable_data_home_is_a_user_error(tmp_path, monkeypatch, capsys):
    from ented_desktop.gui import app as app_module

    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert app_module.main(["ented-desktop", "--install-desktop-entry"]) == 2
    assert "cannot be written" in capsys.readouterr().err
