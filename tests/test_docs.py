"""Code in the documentation runs as written."""

import pathlib
import re


DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), re.S)


def test_property_testing_page_example_runs():
    (source,) = python_blocks("property-testing.md")
    namespace = {"__name__": "docs_example"}
    exec(compile(source, "property-testing.md", "exec"), namespace)
    tests = [name for name in namespace if name.startswith("test_")]
    assert tests == ["test_my_upsampling_matches_the_reference", "test_with_at_most_one_channel_per_level"]
    import numpy as np
    namespace["test_my_upsampling_matches_the_reference"](np.float64)
    namespace["test_my_upsampling_matches_the_reference"](np.float32)
    namespace["test_with_at_most_one_channel_per_level"]()
