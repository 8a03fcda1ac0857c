"""Programme files: the shipped example, the problems a facilitator is shown, and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bot.cli import main
from handlers.core.programme_file import Programme, load_programme
from handlers.core.yaml_file import FileProblems
from storage.db import create_engine
from storage.unit import Store
from tests.conftest import EXAMPLE

# ---------------------------------------------------------------- the shipped example

THEME_TITLES = [
    "Därför är det stort fokus på digital transformation",
    "Nyttan med digitalisering",
    "Att leda digital transformation",
    "Förutsättningar för att leda digital transformation",
]
ORGANISATIONS = ["umea", "skelleftea", "ornskoldsvik", "pitea", "region-vasterbotten"]


def test_the_example_has_the_four_themes_of_the_programme(programme: Programme) -> None:
    assert programme.id == "digital-kompetens"
    assert [theme.title["sv"] for theme in programme.themes] == THEME_TITLES


def test_the_example_has_the_five_organisations(programme: Programme) -> None:
    organisations = programme.programme.organisations
    assert [o.id for o in organisations] == ORGANISATIONS
    assert organisations[0].name == {"sv": "Umeå kommun", "en": "Umeå Municipality"}


def test_the_example_has_labs_in_both_categories(programme: Programme) -> None:
    categories = {lab.category for lab in programme.labs}
    assert categories == {"leading-digitally", "development-methods"}
    assert all(lab.sessions for lab in programme.labs)


def test_every_theme_of_the_example_ends_in_a_quiz(programme: Programme) -> None:
    for number, theme in enumerate(programme.themes, start=1):
        assert theme.quiz is not None, f"theme {number}"
        assert len(theme.quiz.questions) >= 5, f"theme {number}"
        for question in theme.quiz.questions:
            assert 2 <= len(question.options) <= 6
            assert sum(o.correct for o in question.options) >= 1


def _local_texts(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every {sv: ..., en: ...} text in a programme's JSON, with where it is."""
    if isinstance(data, dict):
        if data and set(data) <= {"sv", "en"}:
            yield path, data
            return
        for key, value in data.items():
            yield from _local_texts(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _local_texts(value, (*path, index))


def test_every_text_of_the_example_is_written_in_swedish_and_english(
    programme: Programme,
) -> None:
    # A plain string is accepted as "the same in every language"; the example must not
    # lean on that: each text is written out in both languages in the file itself.
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    texts = list(_local_texts(programme.as_json()))
    assert len(texts) > 200
    for path, _ in texts:
        written = raw
        for part in path:
            # A number as a key (a theme's survey) is a string in the stored JSON.
            written = written[part] if part in written else written[int(part)]
        assert isinstance(written, dict), path
        assert set(written) == {"sv", "en"}, path
        assert all(isinstance(v, str) and v.strip() for v in written.values()), path


# ---------------------------------------------------------------- problems in a file

# A small valid programme; the line numbers on the right are what the problems point at.
VALID = """\
programme:
  id: prov
  title: {sv: "Prov", en: "Trial"}
  organisations:
    - id: umea                                          # line 5
      name: {sv: "Umeå kommun", en: "Umeå Municipality"}
themes:
  - title: {sv: "Tema", en: "Theme"}                    # line 8
    intro: {sv: "Intro", en: "Intro"}
    reflection_task:
      text: {sv: "Gör", en: "Do"}
    digilog_prompt: {sv: "Skriv", en: "Write"}          # line 12
    quiz:
      questions:
        - text: {sv: "Fråga?", en: "Question?"}
          options:                                      # line 16
            - text: {sv: "Ja", en: "Yes"}
              correct: true
            - text: {sv: "Nej", en: "No"}
          explanation: {sv: "För att", en: "Because"}
labs:
  - id: labb
    title: {sv: "Labb", en: "Lab"}
    category: leading-digitally
    description: {sv: "Beskrivning", en: "Description"}
    sessions:
      - start: 2027-02-16 13:00                         # line 27
        end: 2027-02-16 15:00
        place: {sv: "Umeå", en: "Umeå"}
        capacity: 20
"""


def changed(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return change


BAD_FILES = {
    "yaml syntax error": (
        changed("  id: prov\n", "  id: prov: igen\n"),
        ["{file}:2: (YAML): a colon inside a text: put the text in quotes"],
    ),
    "duplicate key": (
        changed(
            '  title: {sv: "Prov", en: "Trial"}\n',
            '  title: {sv: "Prov", en: "Trial"}\n  id: prov2\n',
        ),
        ["{file}:4: programme.id: this name appears twice"],
    ),
    "unknown field": (
        changed("    digilog_prompt:", "    colour: blue\n    digilog_prompt:"),
        ["{file}:12: themes[1].colour: unknown field (check the spelling)"],
    ),
    "missing required field": (
        changed('    digilog_prompt: {sv: "Skriv", en: "Write"}          # line 12\n', ""),
        ["{file}:8: themes[1].digilog_prompt: this field is required"],
    ),
    "a question with one option": (
        changed('            - text: {sv: "Nej", en: "No"}\n', ""),
        ["{file}:16: themes[1].quiz.questions[1].options: needs at least 2"],
    ),
    "a question with no correct option": (
        changed("              correct: true\n", ""),
        ["{file}:16: themes[1].quiz.questions[1].options: no option is marked `correct: true`"],
    ),
    "a bad organisation id": (
        changed("    - id: umea ", "    - id: Umeå "),
        [
            "{file}:5: programme.organisations[1].id: "
            "use lowercase letters a-z, digits and hyphens, e.g. pitea-kommun"
        ],
    ),
    "a session that ends before it starts": (
        changed("        end: 2027-02-16 15:00", "        end: 2027-02-16 12:00"),
        ["{file}:27: labs[1].sessions[1]: the session ends before it starts"],
    ),
    "an unknown language": (
        changed('  - title: {sv: "Tema", en: "Theme"}', '  - title: {sv: "Tema", de: "Thema"}'),
        ["{file}:8: themes[1].title: unknown language de (use sv and/or en)"],
    ),
    "several problems at once": (
        lambda text: changed("    - id: umea ", "    - id: Umeå ")(
            changed("              correct: true\n", "")(text)
        ),
        [
            "{file}:5: programme.organisations[1].id: "
            "use lowercase letters a-z, digits and hyphens, e.g. pitea-kommun",
            "{file}:16: themes[1].quiz.questions[1].options: no option is marked `correct: true`",
        ],
    ),
}


def write(tmp_path: Path, text: str, name: str = "programme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_small_programme_is_valid(tmp_path: Path) -> None:
    programme = load_programme(write(tmp_path, VALID))
    assert programme.id == "prov"
    assert programme.theme(1) is not None and programme.theme(2) is None


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_names_the_line_and_the_field(tmp_path: Path, case: str) -> None:
    change, expected = BAD_FILES[case]
    path = write(tmp_path, change(VALID))

    with pytest.raises(FileProblems) as raised:
        load_programme(path)

    assert sorted(str(p) for p in raised.value.problems) == sorted(
        line.format(file=path) for line in expected
    )


def test_a_file_that_is_not_utf8_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.encode("latin-1"))  # as an old editor might save it

    with pytest.raises(FileProblems) as raised:
        load_programme(path)

    (problem,) = raised.value.problems
    assert str(problem).startswith(f"{path}:1: (file): not UTF-8 text")


# ---------------------------------------------------------------- the CLI


def digilog(*args: str, database_url: str | None = None) -> Result:
    env = {"DIGILOG_LANGUAGE": "en"}
    if database_url is not None:
        env["DIGILOG_DATABASE_URL"] = database_url
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_cli_validate_accepts_the_example() -> None:
    result = digilog("program", "validate", str(EXAMPLE))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{EXAMPLE}: ok — digital-kompetens: 4 themes,")
    assert "5 organisations" in result.stdout


def test_cli_validate_prints_one_line_per_problem(tmp_path: Path) -> None:
    change, expected = BAD_FILES["several problems at once"]
    path = write(tmp_path, change(VALID))

    result = digilog("program", "validate", str(path))

    assert result.exit_code != 0
    assert result.stderr.splitlines() == [line.format(file=path) for line in expected]
    assert "ok" not in result.stdout


def test_cli_validate_of_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "finns-inte.yaml"

    result = digilog("program", "validate", str(path))

    assert result.exit_code != 0
    assert result.stderr.strip() == f"{path}:1: (file): no such file"


def test_cli_says_the_problems_in_the_administrators_language(tmp_path: Path) -> None:
    """DIGILOG_LANGUAGE=sv: every word of a problem is Swedish but the file's own names."""
    path = write(tmp_path, changed("  id: prov\n", "  id: prov: igen\n")(VALID))
    tabbed = write(tmp_path, VALID.replace("  id: prov\n", "\tid: prov\n"), "tab.yaml")
    bad_id = write(tmp_path, BAD_FILES["several problems at once"][0](VALID), "ids.yaml")
    env = {"DIGILOG_LANGUAGE": "sv"}

    said = [
        CliRunner().invoke(main, ["program", "validate", str(f)], env=env).stderr.splitlines()
        for f in (path, tabbed, bad_id, tmp_path / "saknas.yaml")
    ]

    assert said == [
        [f"{path}:2: (YAML): ett kolon i texten – sätt texten inom citattecken"],
        [f"{tabbed}:2: (YAML): ett tabbtecken – använd mellanslag för indrag"],
        [
            f"{bad_id}:5: programme.organisations[1].id: använd små bokstäver a–z, siffror "
            "och bindestreck, till exempel pitea-kommun",
            f"{bad_id}:16: themes[1].quiz.questions[1].options: inget svarsalternativ är "
            "markerat med `correct: true`",
        ],
        [f"{tmp_path / 'saknas.yaml'}:1: (fil): filen finns inte"],
    ]


async def _programmes(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with Store(engine).transaction() as repos:
            return [p.id for p in await repos.programs.all()]
    finally:
        await engine.dispose()


def test_cli_load_of_a_bad_file_stores_nothing(tmp_path: Path, database_url: str) -> None:
    path = write(tmp_path, BAD_FILES["a bad organisation id"][0](VALID))

    result = digilog("program", "load", str(path), database_url=database_url)

    assert result.exit_code != 0
    assert f"{path}:5: programme.organisations[1].id:" in result.stderr
    assert asyncio.run(_programmes(database_url)) == []


def test_cli_load_of_the_example_twice_is_unchanged_the_second_time(database_url: str) -> None:
    first = digilog("program", "load", str(EXAMPLE), database_url=database_url)
    second = digilog("program", "load", str(EXAMPLE), database_url=database_url)

    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "digital-kompetens: loaded"
    assert second.exit_code == 0, second.output
    assert second.stdout.strip() == "digital-kompetens: unchanged"
    assert asyncio.run(_programmes(database_url)) == ["digital-kompetens"]


def test_cli_load_of_a_changed_file_loads_it_again(tmp_path: Path, database_url: str) -> None:
    path = write(tmp_path, VALID)
    assert digilog("program", "load", str(path), database_url=database_url).exit_code == 0
    path.write_text(VALID.replace('en: "Trial"', 'en: "Trial run"'), encoding="utf-8")

    result = digilog("program", "load", str(path), database_url=database_url)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "prov: loaded"
