"""The specification, ``docs/spec.md``, agrees with the rest of the project.

Checked here: the page has a heading for every clause S1-S12 and states the
sub-clauses S6.1-S6.8; every clause id that code, tests, docs, examples and
the golden manifest cite is defined on it; every reference to a Markdown file
in the README files, the docs and the package docstrings points to a file
that exists; the conformance profiles it defines (S11) are those of
``refups.profiles``, rule by rule; its code blocks are tagged and at most 88
characters wide; and refups does what its S6.7 says about level order.
"""

import ast
import json
import os
import pathlib
import re

import numpy as np
import pytest

from refups import Upsampling
from refups.profiles import PROFILES

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec.md"

#: A clause id: S1 .. S99, optionally with a sub-clause, not glued to a word before it.
CLAUSE = re.compile(r"(?<!\w)S(\d{1,2})(?:\.(\d+))?\b")
#: A range of clause ids ("S1-S10", "S1..S3", "S4 to S6", "S6.1 ... S6.7").
CLAUSE_RANGE = re.compile(
    r"(?<!\w)S(\d{1,2})(?:\.(\d+))?\s*(?:-|\u2013|\.\.\.?|\u2026|to)\s*S(\d{1,2})(?:\.(\d+))?\b"
)
#: Tokens that look like clause ids but are deliberately not citations.
NOT_CITATIONS = {
    # An id that exists nowhere: the test checks that `--skip` rejects it.
    ("tests/test_verification.py", "S6.9"),
}
#: A reference to a Markdown file: a path (relative or not) ending in ".md".
MD_REFERENCE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-][\w.-]*\.md)(?!\w)")
URL = re.compile(r"https?://[^\s)>\]`'\"]+")


# -- reading the page ------------------------------------------------------------------

def without_code_blocks(text):
    """``text`` with the lines inside fenced code blocks blanked (line numbers kept)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return "\n".join(lines)


def spec_prose():
    return without_code_blocks(SPEC.read_text(encoding="utf-8"))


def section(text, heading_pattern, level=2):
    """The text from the heading matching ``heading_pattern`` to the next heading of that level."""
    hashes = "#" * level
    match = re.search(rf"^{hashes} {heading_pattern}.*$", text, re.M)
    assert match, f"docs/spec.md has no heading matching {hashes} {heading_pattern}"
    end = re.search(rf"^#{{1,{level}}} ", text[match.end():], re.M)
    return text[match.end():match.end() + end.start()] if end else text[match.end():]


def clause_headings(text):
    """Ids of the level-2 headings that start with a clause id, in page order."""
    return re.findall(r"^## (S\d+)\b", text, re.M)


def sub_clause_definitions(text):
    """Sub-clause ids that start a list item or a heading, such as ``- **S6.4** ...``."""
    return re.findall(r"^\s*(?:[-*+]\s+|#{2,6}\s+)\**(S\d+\.\d+)\b", text, re.M)


def defined_clauses():
    text = spec_prose()
    return set(clause_headings(text)) | set(sub_clause_definitions(text))


def normalised(text):
    """Lower-case text without Markdown emphasis or code marks, whitespace collapsed."""
    return " ".join(re.sub(r"[`*\\]", "", text).lower().split())


# -- clauses cited in the project --------------------------------------------------------

def cited_clauses(text):
    """Every clause id ``text`` cites, ranges expanded, as ``(id, line number)``."""
    found = []
    for pattern in (CLAUSE, CLAUSE_RANGE):
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            if pattern is CLAUSE:
                major, minor = match.groups()
                found.append((f"S{major}" + (f".{minor}" if minor else ""), line))
                continue
            first, first_sub, last, last_sub = match.groups()
            if first_sub and last_sub and first == last:
                found += [(f"S{first}.{i}", line) for i in range(int(first_sub), int(last_sub) + 1)]
            elif not first_sub and not last_sub:
                found += [(f"S{i}", line) for i in range(int(first), int(last) + 1)]
    return found


def text_files(pattern):
    """Files under ROOT matching ``pattern`` that are UTF-8 text (binaries skipped)."""
    files = []
    for path in sorted(ROOT.glob(pattern)):
        if not path.is_file() or "_build" in path.parts or "__pycache__" in path.parts:
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        files.append(path)
    return files


def citing_files():
    patterns = ["refups/**/*.py", "tests/**/*.py", "docs/*.md", "docs/*.py", "README.md",
                "data/README.md", "examples/**/*", "benchmarks/*.py"]
    files = [path for pattern in patterns for path in text_files(pattern)]
    return [path for path in files if path != pathlib.Path(__file__).resolve()]


def test_clause_scanner_finds_citations_and_skips_lookalikes():
    text = 'SPEC S4, clauses S1-S3, (S6.7)\nS6.1 ... S6.3 and S10; not TS1, S6x, S123 or XS6.4'
    assert sorted(set(token for token, _ in cited_clauses(text))) == sorted(
        ["S1", "S2", "S3", "S4", "S6.1", "S6.2", "S6.3", "S6.7", "S10"])
    assert ("S6.2", 2) in cited_clauses(text)


def test_every_clause_id_cited_in_the_project_is_defined_in_the_spec():
    defined = defined_clauses()
    citations, missing = {}, {}
    for path in citing_files():
        relative = path.relative_to(ROOT).as_posix()
        for token, line in cited_clauses(path.read_text(encoding="utf-8")):
            if (relative, token) in NOT_CITATIONS:
                continue
            citations.setdefault(token, []).append(f"{relative}:{line}")
            if token not in defined:
                missing.setdefault(token, []).append(f"{relative}:{line}")
    # The scan must really see the project's citations, not an empty tree.
    assert {"S4", "S6.4", "S8", "S10"} <= set(citations)
    assert any(place.startswith("refups/") for place in citations["S6.4"])
    assert any(place.startswith("tests/") for place in citations["S6.4"])
    assert missing == {}, f"clause ids cited but not defined in docs/spec.md: {missing}"


def test_every_clause_in_the_golden_manifest_is_defined_in_the_spec():
    manifest = json.loads((ROOT / "data" / "golden" / "manifest.json").read_text(encoding="utf-8"))
    cited = {clause for case in manifest["cases"] for clause in case["clauses"]}
    cited |= {clause for flag in manifest.get("flags", {}).values()
              for clause in flag.get("clauses", [])}
    assert len(cited) >= 10  # the manifest does cite clauses
    assert cited - defined_clauses() == set()


# -- the page's structure ----------------------------------------------------------------

def test_the_spec_has_one_heading_per_clause_s1_to_s12_in_order():
    assert clause_headings(spec_prose()) == [f"S{i}" for i in range(1, 13)]


def test_the_spec_states_the_sub_clauses_s6_1_to_s6_7_inside_s6():
    s6 = section(spec_prose(), r"S6\b")
    assert sub_clause_definitions(s6) == [f"S6.{i}" for i in range(1, 9)]
    assert sub_clause_definitions(spec_prose()) == [f"S6.{i}" for i in range(1, 9)]


def test_code_blocks_of_the_spec_have_a_language_and_fit_in_88_columns():
    fenced, blocks = False, 0
    for number, line in enumerate(SPEC.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            if not fenced:
                blocks += 1
                assert line.strip() != "```", f"docs/spec.md:{number}: block without a language"
            fenced = not fenced
        elif fenced:
            assert len(line) <= 88, f"docs/spec.md:{number}: code line of {len(line)} characters"
    assert not fenced, "docs/spec.md: a code block is never closed"
    assert blocks >= 1  # the S6 loop is shown as code


def test_the_spec_speaks_only_of_the_project():
    text = SPEC.read_text(encoding="utf-8")
    for word in ("SPEC.md", "../shared", "briefing", "session"):
        assert word.lower() not in text.lower(), f"docs/spec.md mentions {word!r}"


# -- references to Markdown files ----------------------------------------------------------

def exists_exactly(path):
    """True if ``path`` is a file inside the repository, with this exact spelling (case too)."""
    relative = os.path.relpath(os.path.normpath(path), ROOT)
    if relative.startswith(".."):
        return False
    current = ROOT
    for part in pathlib.PurePath(relative).parts:
        if not current.is_dir() or part not in os.listdir(current):
            return False
        current = current / part
    return current.is_file()


def markdown_references(text, first_line=1):
    """``(reference, line)`` for every ``*.md`` path in ``text``, URLs left out."""
    text = URL.sub(lambda match: " " * len(match.group()), text)
    return [(match.group(1), first_line + text.count("\n", 0, match.start()))
            for match in MD_REFERENCE.finditer(text)]


def docstrings(path):
    """``(docstring, first line)`` for the module and every class and function of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                found.append((body[0].value.value, body[0].value.lineno))
    return found


def referencing_places():
    """``(file, reference, line)`` for every Markdown-file reference the checks cover."""
    places = []
    pages = [ROOT / "README.md", ROOT / "data" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        places += [(path, ref, line) for ref, line in markdown_references(text)]
    for path in sorted((ROOT / "refups").glob("*.py")):
        for text, line in docstrings(path):
            places += [(path, ref, at) for ref, at in markdown_references(text, line)]
    return places


def broken_markdown_references():
    return sorted(f"{path.relative_to(ROOT).as_posix()}:{line}: {ref}"
                  for path, ref, line in referencing_places()
                  if not (exists_exactly(path.parent / ref) or exists_exactly(ROOT / ref)))


def test_reference_finder_sees_paths_and_links_and_skips_urls():
    text = ("see `docs/spec.md` and [Golden](golden.md#layout),\n"
            "```{include} ../data/README.md\n"
            "https://github.com/x/y/blob/main/README.md and SPEC.md")
    assert [ref for ref, _ in markdown_references(text, 10)] == [
        "docs/spec.md", "golden.md", "../data/README.md", "SPEC.md"]
    assert markdown_references(text, 10)[-1] == ("SPEC.md", 12)


def test_a_reference_to_spec_md_counts_as_broken():
    assert not exists_exactly(ROOT / "SPEC.md")
    assert not exists_exactly(ROOT / "docs" / "SPEC.md")  # even where spec.md exists
    assert exists_exactly(ROOT / "docs" / "spec.md")
    assert exists_exactly(ROOT / "docs" / ".." / "data" / "README.md")


def test_every_markdown_file_reference_points_to_a_file_that_exists():
    assert len(referencing_places()) >= 3  # README.md alone cites several pages
    broken = broken_markdown_references()
    assert broken == [], "references to missing Markdown files:\n" + "\n".join(broken)


# -- S11: the profiles are those of refups.profiles ------------------------------------------

def profile_sections():
    """``{name: text}`` for every ``### Profile `name` `` subsection of S11, in page order."""
    s11 = section(spec_prose(), r"S11\b")
    parts = re.split(r"^### Profile `([^`]+)`[ \t]*$", s11, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_the_profiles_section_defines_exactly_the_profiles_of_refups():
    assert "Conformance profiles" in re.search(r"^## S11 .*$", spec_prose(), re.M).group()
    assert list(profile_sections()) == list(PROFILES)


@pytest.mark.parametrize("name", list(PROFILES))
def test_the_spec_states_every_rule_of_the_profile(name):
    text = normalised(profile_sections().get(name, ""))
    profile = PROFILES[name]
    assert normalised(profile.summary) in text
    for rule in profile.rules:
        assert normalised(rule) in text, f"profile {name}: rule not on the page: {rule!r}"


def test_the_spec_says_how_cases_join_profiles_and_what_checks_the_rules():
    text = normalised(section(spec_prose(), r"S11\b"))
    assert "a golden case belongs to every profile whose rules it satisfies" in text
    assert "refups.profiles" in text


# -- S6.7 and S10: level order, as stated and as done -----------------------------------------

def test_the_spec_states_that_a_coarsest_first_pyramid_is_rejected():
    s6_7 = normalised(section(spec_prose(), r"S6\b").split("**S6.7**")[1])
    s10 = normalised(section(spec_prose(), r"S10\b"))
    for text in (s6_7, s10):
        assert "coarsest first" in text
        assert "level 0 is the finest" in text
    assert "breaks this rule at its first transition" in s6_7


def test_refups_rejects_a_coarsest_first_pyramid_saying_level_0_is_the_finest():
    up = Upsampling(4, 3, 1, 1)
    finest_first = [np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2))]
    assert up(finest_first).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match=r"level 0 (is|must be) the finest"):
        up(finest_first[::-1])


def test_refups_accepts_levels_of_equal_size_as_s6_7_allows():
    up = Upsampling(4, 3, 1, 1)
    assert up([np.ones((1, 1, 1, 1))] * 3).shape == (1, 3, 1, 1)
