"""Code in the documentation runs as written."""

import pathlib
import re

import numpy as np
from helpers import optional

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S)


def test_property_testing_page_example_runs():
    source = python_blocks("property-testing.md")[0]
    namespace = {"__name__": "docs_example"}
    exec(compile(source, "property-testing.md", "exec"), namespace)
    tests = [name for name in namespace if name.startswith("test_")]
    assert tests == ["test_my_upsampling_matches_the_reference", "test_everything_refups_computes_on_large_pyramids"]
    namespace["test_my_upsampling_matches_the_reference"](np.float64)
    namespace["test_my_upsampling_matches_the_reference"](np.float32)
    namespace["test_everything_refups_computes_on_large_pyramids"]()


def test_property_testing_page_torch_adapter_passes_in_both_dtypes(monkeypatch):
    optional("torch")
    from refups.testing import check_implementation

    monkeypatch.syspath_prepend(str(DOCS.parent / "examples"))
    source = python_blocks("property-testing.md")[1]
    namespace = {"__name__": "docs_torch_adapter"}
    exec(compile(source, "property-testing.md", "exec"), namespace)
    for dtype in (np.float64, np.float32):
        check_implementation(namespace["torch_candidate"], dtype=dtype, max_examples=30, derandomize=True)


def test_readme_example_runs_and_says_what_it_does():
    readme = (DOCS.parent / "README.md").read_text()
    (source,) = re.findall(r"```python\n(.*?)```", readme, re.S)
    namespace = {}
    exec(compile(source, "README.md", "exec"), namespace)
    assert namespace["dense"].shape == (1, 7, 64, 64)  # as its comment says
    assert namespace["dense"].dtype == np.float64
    assert len(namespace["steps"]) == 6
    assert list(namespace["params"])[0] == "conv_transpose2ds.0.bias"
    np.testing.assert_allclose(namespace["dense_train"], namespace["dense"], rtol=1e-12, atol=1e-12)


def markdown_rows(page, header):
    """The rows of the Markdown table whose header line starts with ``header``."""
    lines = (DOCS / page).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_conformance_flags_table_matches_the_flags_and_cases():
    from refups.cases import CASES
    from refups.flags import FLAGS

    rows = markdown_rows("conformance.md", "| flag |")
    assert [row[0] for row in rows] == [f"`{name}`" for name in FLAGS]
    for (name, flag), row in zip(FLAGS.items(), rows):
        cases = ", ".join(case.id for case in CASES if name in case.flags)
        assert row[1:] == [flag.bug, ", ".join(flag.clauses), ", ".join(flag.profiles), cases], name


def test_conformance_profiles_table_matches_the_profiles():
    from refups.cases import CASES
    from refups.profiles import PROFILES

    rows = markdown_rows("conformance.md", "| profile |")
    assert [row[0] for row in rows] == [f"`{name}`" for name in PROFILES]
    for (name, profile), row in zip(PROFILES.items(), rows):
        count = sum(name in case.profiles for case in CASES)
        assert row[1:] == [profile.summary, "; ".join(profile.rules), str(count)], name


def _anchor(heading):
    """The anchor MyST gives a heading (``myst_heading_anchors``): lower case, words joined by '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_each_clause_is_stated_on_one_page_only():
    headings = {page.name: re.findall(r"^#+ (.*)$", page.read_text(), re.M) for page in DOCS.glob("*.md")}
    clause = re.compile(r"S\d+(\.\d+)?\b")
    stated = {page: [h for h in found if clause.match(h)] for page, found in headings.items()}
    assert [f"S{n}" for n in range(1, 13)] == [h.split()[0] for h in stated["spec.md"]]
    assert {page: found for page, found in stated.items() if found and page != "spec.md"} == {}


def test_clause_links_point_at_headings_of_the_specification():
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.*)$", (DOCS / "spec.md").read_text(), re.M)}
    links = {page.name: re.findall(r"\]\(spec\.md#([^)]+)\)", page.read_text()) for page in DOCS.glob("*.md")}
    assert len(links["semantics.md"]) >= 10  # the commentary links every clause it comments on
    broken = {page: sorted(set(found) - anchors) for page, found in links.items() if set(found) - anchors}
    assert broken == {}
