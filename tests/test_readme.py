"""The README's examples are true: its console sessions print what it says, its code runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnisim.cli import app

README_PATH = Path(__file__).parent.parent / "README.md"
README = README_PATH.read_text()


def console_examples() -> list[tuple[str, str]]:
    """(command line, the output the README shows under it) for each ``$ cnisim`` line."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.DOTALL):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("$ cnisim "):
                continue
            output = []
            for following in lines[i + 1 :]:
                if following.startswith("$ "):
                    break
                output.append(following)
            examples.append((line[2:], "\n".join(output)))
    return examples


EXAMPLES = console_examples()


def test_the_readme_has_console_examples() -> None:
    assert any(command == "cnisim maxpods t3.large" for command, _ in EXAMPLES)


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_console_example(command: str, shown: str, tmp_path: Path) -> None:
    words = shlex.split(command, comments=True)[1:]
    if ">" in words:  # writes a file: run it, check the file
        words, target = words[: words.index(">")], tmp_path / words[words.index(">") + 1]
        result = CliRunner().invoke(app, words)
        assert result.exit_code == 0, result.output
        target.write_text(result.stdout)
        assert target.read_text().startswith("instance_type,")
        return
    result = CliRunner().invoke(app, words)
    assert result.exit_code == 0, result.output
    if shown:
        assert result.stdout.rstrip("\n") == shown


PYTHON_EXAMPLES = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_the_readme_has_python_examples() -> None:
    assert len(PYTHON_EXAMPLES) >= 2  # the engine's and the recommender's


@pytest.mark.parametrize("code", PYTHON_EXAMPLES, ids=[f"python-{i}" for i, _ in
                         enumerate(PYTHON_EXAMPLES)])  # fmt: skip
def test_python_example_runs(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(README_PATH.parent)  # the examples name files as a user in the checkout
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
