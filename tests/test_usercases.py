"""Cases from a user's own data (refups.usercases, ``refups add-case``), verified end to end."""

import json
import os
import re
import shlex
import sys

import numpy as np
import pytest

from refups import usercases
from refups.cli import main
from refups.io import FileError, params_to_json
from refups.realdata import real_model, window
from refups.suite import load_suite, schema
from refups.upsampling import Upsampling
from refups.usercases import add_case
from refups.verification import verify

# A candidate for --run: refups' own separable path in float32 (so not bit-exact), reading the
# case folder as any implementation would.
CANDIDATE = """\
import pathlib, sys
import numpy as np
from refups import Upsampling
from refups.io import config_from_params, load_params
case, out = map(pathlib.Path, sys.argv[1:3])
params = load_params(case / "params.json")
n = sum(1 for p in case.glob("latent_*.npy"))
latents = [np.load(case / f"latent_{i}.npy").astype(np.float32) for i in range(n)]
up = Upsampling(*config_from_params(params))
up.set_param(params)
out.mkdir(parents=True, exist_ok=True)
np.save(out / "output.npy", up(latents) + float(sys.argv[3]) if len(sys.argv) > 3 else up(latents))
"""


@pytest.fixture()
def motion(tmp_path):
    """The real motion instance: levels as one .npz, weights (no biases) as JSON."""
    model = real_model("basketball_b_motion")
    np.savez(tmp_path / "motion.npz", **{f"level_{i}": y.astype(np.int8) for i, y in enumerate(model.latents)})
    (tmp_path / "motion.json").write_text(json.dumps(params_to_json(model.params)))
    return model


def command(tmp_path, *extra):
    script = tmp_path / "candidate.py"
    script.write_text(CANDIDATE)
    return " ".join(shlex.quote(part) for part in [sys.executable, str(script), "{case}", "{out}", *extra])


def listing(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


def test_a_folder_of_user_cases_verifies_end_to_end(tmp_path, motion, capsys, monkeypatch):
    suite = tmp_path / "mine"
    assert main(["add-case", str(suite), "--id", "motion", "--params", str(tmp_path / "motion.json"),
                 "--latents", str(tmp_path / "motion.npz")]) == 0
    kodim = real_model("kodim14")
    paths = []
    for i, y in enumerate(window(kodim.latents, 64, 128, 40, 70)):
        paths.append(tmp_path / f"k{i}.npy")
        np.save(paths[-1], y.astype(np.float32))  # what a decoder holds
    up = Upsampling(*kodim.config)
    up.set_param(kodim.params)
    np.savez(tmp_path / "k.npz", **up.get_param())  # with (zero) biases this time
    assert main(["add-case", str(suite), "--id", "kodim", "--params", str(tmp_path / "k.npz"),
                 "--latents", *map(str, paths), "--description", "a corner of kodim14"]) == 0
    monkeypatch.setattr(usercases, "EXACT_LIMIT", 100)  # as for a pyramid too large for the exact oracle
    assert main(["add-case", str(suite), "--id", "motion_large", "--params", str(tmp_path / "motion.json"),
                 "--latents", str(tmp_path / "motion.npz")]) == 0
    out = capsys.readouterr().out
    assert "added case motion_large to" in out and "expected values float64" in out

    manifest = json.loads((suite / "manifest.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(manifest, schema())
    cases = {entry["id"]: entry for entry in manifest["cases"]}
    assert list(cases) == ["motion", "kodim", "motion_large"]
    assert [cases[c]["expected"] for c in cases] == ["exact", "exact", "float64"]
    assert cases["motion"]["source"] == "your own data: latents motion.npz, parameters motion.json"
    assert cases["kodim"]["description"] == "a corner of kodim14"
    assert "S6.4" in cases["motion"]["clauses"] and "S6.7" in cases["kodim"]["clauses"]
    assert [f["shape"] for f in cases["motion"]["files"] if f["path"] == "output.npy"] == [[1, 5, 120, 208]]
    _, data = load_suite(suite)  # every checksum agrees
    np.testing.assert_array_equal(data["motion"]["latent_2"], motion.latents[2])
    assert (suite / "kodim" / "case.txt").read_text().startswith("refups-case 1\nid kodim\n")

    # A float32 candidate passes all three, through --run; a wrong one fails all three.
    assert main(["verify", str(tmp_path / "out"), "--golden", str(suite), "--run", command(tmp_path)]) == 0
    report = capsys.readouterr().out
    assert "verdict for profile full: PASS (3 of 3 cases passed)" in report
    assert main(["verify", str(tmp_path / "bad"), "--golden", str(suite), "--run",
                 command(tmp_path, "1e-4")]) == 1
    assert "FAIL (0 of 3 cases passed)" in capsys.readouterr().out


def test_float64_expected_values_widen_the_bound_by_the_references_own(tmp_path, motion, monkeypatch):
    monkeypatch.setattr(usercases, "EXACT_LIMIT", 0)
    entry = add_case(tmp_path / "s", "m", motion.latents, motion.params)
    assert entry["expected"] == "float64"
    up = Upsampling(*motion.config)
    up.set_param(motion.params)
    (tmp_path / "c" / "m").mkdir(parents=True)
    np.save(tmp_path / "c" / "m" / "output.npy", up(motion.latents))  # the float64 path itself
    row = verify(tmp_path / "c", golden=tmp_path / "s")["cases"][0]
    assert row["status"] == "PASS" and row["tier"] == "pass"  # never "exact": nothing is correctly rounded
    exact = add_case(tmp_path / "e", "m", motion.latents, motion.params, expected="exact")
    assert exact["expected"] == "exact"
    assert verify(tmp_path / "c", golden=tmp_path / "e")["cases"][0]["tier"] in ("exact", "pass")


def test_replacing_a_case_needs_force_and_keeps_the_others(tmp_path, motion):
    suite = tmp_path / "s"
    add_case(suite, "a", motion.latents, motion.params)
    add_case(suite, "b", motion.latents[2:], motion.params)
    before = listing(suite)
    with pytest.raises(FileError, match=r"/a: is already a case of this suite; use force=True \(--force\) to "
                                        r"replace it$"):
        add_case(suite, "a", motion.latents[3:], motion.params)
    assert listing(suite) == before
    add_case(suite, "a", motion.latents[3:], motion.params, force=True)
    manifest = json.loads((suite / "manifest.json").read_text())
    assert [e["id"] for e in manifest["cases"]] == ["b", "a"]
    assert len([e for e in manifest["cases"] if e["id"] == "a"][0]["files"]) != 0
    assert sorted(p.name for p in suite.iterdir()) == ["a", "b", "manifest.json", "manifest.schema.json"]
    assert np.load(suite / "a" / "latent_0.npy").shape == motion.latents[3].shape


BAD = [
    ("bad-id", dict(case_id="A/b"), ValueError, r"case_id must match \[a-z0-9_\]\+; got 'A/b'"),
    ("coarsest-first", dict(latents="reversed"), ValueError, r"level 0 is the finest"),
    ("missing-weight", dict(params="drop-one"), ValueError, r"missing \['conv2ds\.2\.parametrizations"),
    ("not-a-mapping", dict(params=[1, 2]), TypeError, r"params must be a mapping of Cool-chic names to arrays; got list$"),
    ("bad-expected", dict(expected="fast"), ValueError, r"expected must be 'auto', 'exact' or 'float64'"),
    ("one-d-level", dict(latents=[np.zeros(4)]), ValueError, r"latents\[0\] must be a 4-D array"),
    ("bare-array", dict(latents=np.zeros((1, 1, 2, 2))), TypeError, r"latents must be a list of 4-D"),
    ("no-levels", dict(latents=[]), ValueError, r"latents must be a non-empty list"),
    ("complex-float64", dict(latents=[np.zeros((1, 1, 2, 2), complex)], expected="float64"), TypeError,
     r"latents\[0\] must have a real dtype .* got dtype complex128"),
    ("folder-not-listed", dict(case_id="stray"), FileError,
     r"stray: exists but is not a case of this suite; remove it or choose another id$"),
]


@pytest.mark.parametrize("change, error, pattern", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, motion, change, error, pattern):
    suite = tmp_path / "s"
    add_case(suite, "first", motion.latents[2:], motion.params)
    (suite / "stray").mkdir()
    before = listing(suite)
    arguments = dict(case_id="second", latents=motion.latents, params=motion.params)
    arguments.update(change)
    if isinstance(arguments["latents"], str):  # "reversed"
        arguments["latents"] = motion.latents[2:][::-1]
    if isinstance(arguments["params"], str):  # "drop-one"
        arguments["params"] = {name: value for name, value in motion.params.items() if not name.startswith("conv2ds.2.")}
    with pytest.raises(error, match=pattern):
        add_case(suite, arguments.pop("case_id"), arguments.pop("latents"), arguments.pop("params"), **arguments)
    assert listing(suite) == before


def test_a_failure_while_writing_leaves_the_suite_as_it_was(tmp_path, motion, monkeypatch):
    suite = tmp_path / "s"
    add_case(suite, "first", motion.latents[2:], motion.params)
    before = listing(suite)

    def broken(path, data):
        raise OSError("disk full")
    monkeypatch.setattr(usercases, "write_json", broken)
    with pytest.raises(OSError, match="disk full"):
        add_case(suite, "second", motion.latents, motion.params)
    with pytest.raises(OSError, match="disk full"):
        add_case(suite, "first", motion.latents[3:], motion.params, force=True)
    assert listing(suite) == before
    with pytest.raises(OSError, match="disk full"):  # a new suite: nothing at all is left
        add_case(tmp_path / "new", "first", motion.latents[3:], motion.params)
    assert not (tmp_path / "new").exists()


def test_suite_folders_that_are_not_suites_are_refused(tmp_path, motion):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileError, match=r"file: is not a folder$"):
        add_case(tmp_path / "file", "a", motion.latents, motion.params)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileError, match=r"other: is neither empty nor a suite \(no manifest.json\)$"):
        add_case(tmp_path / "other", "a", motion.latents, motion.params)
    assert os.listdir(tmp_path / "other") == ["notes.txt"]
    (tmp_path / "newer").mkdir()
    (tmp_path / "newer" / "manifest.json").write_text('{"format_version": 5, "cases": []}')
    with pytest.raises(FileError, match=r"has format_version 5; .* reads format_version 2, 3 or 4 only$"):
        add_case(tmp_path / "newer", "a", motion.latents, motion.params)


CLI_BAD = [
    ("npz-member-names", lambda t: np.savez(t / "l.npz", fine=np.zeros((1, 1, 2, 2))), ["l.npz"],
     r"l\.npz: holds 'fine'; levels must be named level_<i>, latent_<i> or arr_<i>, level 0 finest$"),
    ("npz-gap", lambda t: np.savez(t / "l.npz", level_0=np.zeros((1, 1, 2, 2)), level_2=np.zeros((1, 1, 1, 1))),
     ["l.npz"], r"l\.npz: level indices must run 0, 1, 2, \.\.\. without gaps; 1 is missing$"),
    ("npz-and-npy", lambda t: (np.savez(t / "l.npz", np.zeros((1, 1, 2, 2))), np.save(t / "y.npy", np.zeros(1))),
     ["l.npz", "y.npy"], r"l\.npz: an \.npz holds the whole pyramid: give it alone, or one \.npy per level$"),
    ("missing-latent", lambda t: None, ["nothing.npy"], r"nothing\.npy: no such file$"),
    ("odd-sizes-break-s6.7", lambda t: (np.save(t / "a.npy", np.zeros((1, 1, 8, 8))),
                                         np.save(t / "b.npy", np.zeros((1, 1, 3, 4)))),
     ["a.npy", "b.npy"], r"latents\[1\]"),
]


@pytest.mark.parametrize("make, names, pattern", [c[1:] for c in CLI_BAD], ids=[c[0] for c in CLI_BAD])
def test_the_command_line_says_what_is_wrong_in_one_line(tmp_path, motion, capsys, make, names, pattern):
    make(tmp_path)
    status = main(["add-case", str(tmp_path / "s"), "--id", "x", "--params", str(tmp_path / "motion.json"),
                   "--latents", *(str(tmp_path / name) for name in names)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("refups add-case: error: "), err
    assert re.search(pattern, err), err
    assert not (tmp_path / "s").exists()


def test_npz_levels_may_be_named_as_numpy_names_them(tmp_path, motion, capsys):
    np.savez(tmp_path / "plain.npz", *motion.latents)  # arr_0, arr_1, ...
    assert main(["add-case", str(tmp_path / "s"), "--id", "plain", "--params", str(tmp_path / "motion.json"),
                 "--latents", str(tmp_path / "plain.npz")]) == 0
    _, data = load_suite(tmp_path / "s")
    for i, y in enumerate(motion.latents):
        np.testing.assert_array_equal(data["plain"][f"latent_{i}"], y)


def test_full_size_pyramids_get_exact_expected_values(tmp_path):
    from refups.exact import upsampling_exact_rounded

    assert usercases.EXACT_LIMIT >= 1920 * 1080  # a 1080p frame at least
    model = real_model("cactus_1080p")
    latents = window(model.latents, 0, 0, 512, 384)  # 196608 samples: more than the oracle once took
    entry = add_case(tmp_path / "s", "cactus_corner", latents, model.params)
    assert entry["expected"] == "exact"
    up = Upsampling(*model.config)
    up.set_param(model.params)
    trace = upsampling_exact_rounded(up, latents, np.float32)
    np.testing.assert_array_equal(np.load(tmp_path / "s" / "cactus_corner" / "output.f32.npy"), trace.output)


def small_params(up):
    return {name: value for name, value in up.get_param().items()}


@pytest.mark.parametrize("shapes, clauses", [
    ([(1, 1, 4, 6)], ["S4", "S5", "S6", "S6.5"]),                                    # one level
    ([(1, 1, 4, 6), (1, 1, 2, 3)], ["S4", "S5", "S6"]),                               # even sizes
    ([(1, 1, 3, 6), (1, 1, 2, 3)], ["S4", "S5", "S6", "S6.7"]),                       # odd height only
    ([(1, 1, 4, 7), (1, 1, 2, 4), (1, 1, 1, 2)], ["S4", "S5", "S6", "S6.7"]),         # odd width, first pair only
    ([(1, 1, 4, 4), (1, 0, 2, 2), (1, 1, 1, 1)], ["S4", "S5", "S6", "S6.4"]),         # a level without channels
])
def test_the_recorded_clauses_description_and_source_follow_the_inputs(tmp_path, shapes, clauses):
    up = Upsampling(4, 3, 1, 1)
    latents = [np.ones(shape) for shape in shapes]
    entry = add_case(tmp_path / "s", "mine", latents, small_params(up))
    assert entry["clauses"] == clauses
    assert entry["description"] == f"your own data: {len(shapes)} levels, level 0 of shape {shapes[0]}"
    assert entry["source"] == "your own data"
    assert json.loads((tmp_path / "s" / "manifest.schema.json").read_text()) == schema()


@pytest.mark.parametrize("shapes, empty_levels, samples", [
    ([(2, 1, 3, 5)], "stop", 30),                                          # no transition: the level itself
    ([(1, 1, 8, 8), (1, 1, 4, 4)], "stop", 64),
    ([(1, 0, 16, 16), (1, 1, 8, 8), (1, 1, 4, 4)], "stop", 64),            # S6.4: level 1 is the last
    ([(1, 0, 16, 16), (1, 1, 8, 8), (1, 1, 4, 4)], "continue", 256),       # 4.0 goes on to level 0
    ([(1, 1, 8, 8), (1, 0, 4, 4), (1, 1, 2, 2)], "stop", 4),               # no transition runs
    ([(1, 1, 16, 16), (1, 1, 8, 8), (1, 1, 4, 4), (1, 1, 2, 2)], "stop", 256),
])
def test_the_exact_limit_counts_the_finest_level_the_loop_reaches(tmp_path, monkeypatch, shapes, empty_levels,
                                                                  samples):
    assert usercases._finest_samples(tuple(shapes), empty_levels) == samples
    latents = [np.ones(shape) for shape in shapes]
    params = small_params(Upsampling(4, 3, 1, 1))
    monkeypatch.setattr(usercases, "EXACT_LIMIT", samples)  # at the limit: exact
    assert add_case(tmp_path / "a", "m", latents, params, empty_levels=empty_levels)["expected"] == "exact"
    monkeypatch.setattr(usercases, "EXACT_LIMIT", samples - 1)
    assert add_case(tmp_path / "b", "m", latents, params, empty_levels=empty_levels)["expected"] == "float64"


def test_float64_expected_values_are_refups_float64_path(tmp_path):
    # Kernels and latents that are not dyadic: the float64 path and the correctly rounded
    # exact values differ somewhere, and each kind of case stores its own.
    up = Upsampling(8, 5, 1, 1)
    up.set_param({name: value / 3 for name, value in up.get_param().items()})
    latents = [np.random.default_rng(1).normal(size=(1, 1, 12, 10)), np.full((1, 1, 6, 5), 0.1)]
    add_case(tmp_path / "s", "f", latents, up.get_param(), expected="float64")
    add_case(tmp_path / "s", "e", latents, up.get_param(), expected="exact")
    stored = {case: np.load(tmp_path / "s" / case / "output.npy") for case in "fe"}
    np.testing.assert_array_equal(stored["f"], up(latents))
    assert not np.array_equal(stored["f"], stored["e"])


def test_a_new_suite_may_be_several_folders_deep(tmp_path):
    up = Upsampling(4, 3, 1, 1)
    add_case(tmp_path / "a" / "b" / "suite", "deep", [np.ones((1, 1, 2, 2))], small_params(up))
    assert load_suite(tmp_path / "a" / "b" / "suite")[0]["cases"][0]["id"] == "deep"


def test_a_failure_before_the_new_case_is_in_place_keeps_the_old_one(tmp_path, motion, monkeypatch):
    suite = tmp_path / "s"
    add_case(suite, "first", motion.latents[2:], motion.params)
    before = listing(suite)

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(usercases, "write_case", broken)  # while the replacement is being staged
    with pytest.raises(OSError, match="disk full"):
        add_case(suite, "first", motion.latents[3:], motion.params, force=True)
    assert listing(suite) == before  # the old case, and no staging folder left
    with pytest.raises(OSError, match="disk full"):  # a new suite: nothing at all is left
        add_case(tmp_path / "new", "first", motion.latents[3:], motion.params)
    assert not (tmp_path / "new").exists()


def test_a_failure_while_writing_the_manifest_restores_the_schema(tmp_path, motion, monkeypatch):
    suite = tmp_path / "s"
    add_case(suite, "first", motion.latents[2:], motion.params)
    (suite / "manifest.schema.json").write_text('{"an": "older schema"}\n')
    before = listing(suite)
    real_write_json = usercases.write_json

    def broken_manifest(path, data):
        if path.name == "manifest.json":
            raise OSError("disk full")
        real_write_json(path, data)
    monkeypatch.setattr(usercases, "write_json", broken_manifest)
    with pytest.raises(OSError, match="disk full"):
        add_case(suite, "second", motion.latents, motion.params)
    assert listing(suite) == before


def test_adding_to_a_format_version_2_suite_keeps_its_cases_with_the_defaults_of_then(tmp_path, motion):
    suite = tmp_path / "s"
    add_case(suite, "old", motion.latents[2:], motion.params)
    manifest = json.loads((suite / "manifest.json").read_text())
    manifest["format_version"] = 2
    for entry in manifest["cases"]:
        del entry["source"], entry["empty_levels"]
    (suite / "manifest.json").write_text(json.dumps(manifest))
    add_case(suite, "new", motion.latents[3:], motion.params)
    upgraded = json.loads((suite / "manifest.json").read_text())
    old = next(entry for entry in upgraded["cases"] if entry["id"] == "old")
    assert (old["source"], old["empty_levels"]) == ("not recorded (format_version 2)", "stop")
    assert upgraded["format_version"] == 4
    load_suite(suite)  # the whole suite reads as the current version


def test_an_unreadable_manifest_is_named(tmp_path, motion):
    suite = tmp_path / "s"
    add_case(suite, "first", motion.latents[3:], motion.params)
    manifest = json.loads((suite / "manifest.json").read_text())
    manifest["format_version"] = 99
    (suite / "manifest.json").write_text(json.dumps(manifest))
    before = listing(suite)
    with pytest.raises(FileError, match=r"^" + re.escape(str(suite / "manifest.json")) + ": has format_version 99"):
        add_case(suite, "second", motion.latents[3:], motion.params)
    assert listing(suite) == before


def test_a_manifest_that_is_a_link_is_not_replaced(tmp_path, motion):
    suite = tmp_path / "s"
    add_case(suite, "first", motion.latents[3:], motion.params)
    (suite / "manifest.json").rename(tmp_path / "elsewhere.json")
    (suite / "manifest.json").symlink_to(tmp_path / "elsewhere.json")
    before = listing(suite)
    with pytest.raises(FileError, match=r"manifest\.json: is a symbolic link; refups only replaces regular files$"):
        add_case(suite, "second", motion.latents[3:], motion.params)
    assert listing(suite) == before
