"""The README's two commands are the ones CI and users run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    install_and_start, install_and_test = readme_commands()[:2]
    assert "ented-desktop" in install_and_start and "pytest" in install_and_test
    assert install_and_test in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines()
