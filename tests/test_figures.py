"""The documentation's figure script runs (when matplotlib is installed), and the
figures the pages show are committed."""

import importlib.util
import pathlib
import re

import pytest
from helpers import optional

optional("matplotlib")

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
SCRIPT = DOCS / "make_figures.py"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    spec = importlib.util.spec_from_file_location("make_figures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(out)])
    return out


def test_make_figures_writes_four_pngs_and_an_animation(figures):
    names = sorted(p.name for p in figures.iterdir())
    assert names == ["kernels.png", "pyramid.png", "responses.png", "scatter.gif", "views.png"]
    for path in figures.glob("*.png"):
        data = path.read_bytes()
        assert data[:8] == PNG and len(data) > 10_000


def test_scatter_animation_has_a_frame_per_padded_sample(figures):
    from PIL import Image, ImageSequence  # matplotlib depends on Pillow

    with Image.open(figures / "scatter.gif") as gif:
        assert gif.format == "GIF" and gif.is_animated
        # k = 4 and n = 3: an empty frame, 7 padded samples, the crop, the
        # result (its three identical frames merged into one that lasts three times as long).
        assert gif.n_frames == 1 + 7 + 2
        assert gif.info["loop"] == 0
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
        assert durations[:-1] == [durations[0]] * 9 and durations[0] >= 1000
        assert durations[-1] == 3 * durations[0]


def test_every_figure_a_page_shows_is_committed():
    shown = set()
    for page in DOCS.glob("*.md"):
        shown |= set(re.findall(r"_static/figures/([\w.-]+)", page.read_text()))
    assert {"views.png", "scatter.gif"} <= shown
    for name in shown:
        assert (DOCS / "_static" / "figures" / name).is_file(), name
