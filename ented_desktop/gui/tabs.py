"""The main window's tabs, by position."""

TAB_PHOTOS, TAB_FACES, TAB_COMPARE = 0, 1, 2
