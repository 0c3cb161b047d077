"""The golden suite: provenance, format, agreement with a fresh generation,
and verification (spec S1-S9 as observed in outputs)."""

import json
import pathlib

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from refups import suite
from refups.cases import CASES, OBSERVABLE_CLAUSES
from refups.suite import generate_suite, load_suite, write_suite
from refups.io import FileError, load_npy

COMMITTED = pathlib.Path(__file__).resolve().parents[1] / "data" / "golden"
SPEC_CLAUSES = {f"S{i}" for i in range(1, 13)} | {f"S6.{i}" for i in range(1, 9)}


@pytest.fixture(scope="module")
def committed():
    return load_suite(COMMITTED)


@pytest.fixture(scope="module")
def fresh():
    return generate_suite()


def test_committed_suite_equals_a_fresh_generation(committed, fresh):
    (manifest, data), (fresh_manifest, fresh_data) = committed, fresh
    assert [c["id"] for c in manifest["cases"]] == [c["id"] for c in fresh_manifest["cases"]]
    for entry, fresh_entry in zip(manifest["cases"], fresh_manifest["cases"]):
        for key in ("description", "clauses", "config", "exact", "stages", "tolerance"):
            assert entry[key] == fresh_entry[key], (entry["id"], key)
        assert list(data[entry["id"]]) == list(fresh_data[entry["id"]])
        for stem, array in data[entry["id"]].items():
            # Exact values correctly rounded depend on no summation order: every bit is reproducible.
            assert_array_equal(array, fresh_data[entry["id"]][stem], err_msg=f"{entry['id']}/{stem}")


def test_manifest_matches_its_schema():
    jsonschema = pytest.importorskip("jsonschema")
    manifest = json.loads((COMMITTED / "manifest.json").read_text())
    schema = json.loads((COMMITTED / "manifest.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(manifest, schema)
    assert schema == suite.schema()
    broken = dict(manifest, format_version=1)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    # Entries that would lead outside the suite folder are outside the schema too.
    for key, value in [("id", "../x"), ("id", "/abs"), ("files", [dict(manifest["cases"][0]["files"][0],
                                                                       path="../../etc/x.npy")])]:
        broken = dict(manifest, cases=[dict(manifest["cases"][0], **{key: value})])
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_suite_covers_every_observable_clause():
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)
    covered = {clause for case in CASES for clause in case.clauses}
    assert covered <= SPEC_CLAUSES
    assert set(OBSERVABLE_CLAUSES) <= covered
    # Every initial kernel size asked for: upsampling 4..12, pre-concatenation 1..9.
    initial = [case.config for case in CASES if case.params == "initial"]
    assert {4, 6, 8, 10, 12} <= {config[0] for config in initial}
    assert {1, 3, 5, 7, 9} <= {config[1] for config in initial}


def test_npy_files_are_canonical():
    for path in sorted(COMMITTED.rglob("*.npy")):
        header = path.read_bytes()[:128]
        assert header[:8] == b"\x93NUMPY\x01\x00", path  # format 1.0
        descr = b"'<f4'" if path.name.endswith(".f32.npy") else b"'<f8'"
        assert b"'descr': " + descr in header and b"'fortran_order': False" in header, path


def test_params_json_round_trips_exactly(committed):
    _, data = committed
    for case in CASES:
        entries = json.loads((COMMITTED / case.id / "params.json").read_text())["params"]
        for name, entry in entries.items():
            array = data[case.id][f"param.{name}"]
            assert [float.fromhex(h) for h in entry["hex"]] == array.tolist()
            assert entry["values"] == array.tolist()  # shortest decimals round-trip


def test_known_answers_anchor_the_suite(committed):
    _, data = committed
    out = data["s4_worked_example"]["output"]  # (1, 2, 2, 6): zeros, then the S4 example twice
    assert_array_equal(out[0, 1], [[1, 1.25, 1.75, 2.5, 3.5, 4]] * 2)
    assert_array_equal(out[0, 0], np.zeros((2, 6)))
    gain = data["bicubic_constant_gain"]["output"][0, 1]
    assert_allclose(gain, 1.00000020000001, rtol=1e-15)
    one = data["one_level"]
    assert_array_equal(one["output"], one["latent_0"])


def test_write_is_deterministic_and_refuses_to_overwrite(tmp_path):
    cases = CASES[:3]
    write_suite(tmp_path / "a", cases=cases)
    write_suite(tmp_path / "b", cases=cases)
    a = json.loads((tmp_path / "a" / "manifest.json").read_text())
    b = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert a == b
    with pytest.raises(FileError, match=r"a: is not empty; pass --force to replace it$"):
        write_suite(tmp_path / "a", cases=cases)
    (tmp_path / "a" / "stray").write_text("x")
    write_suite(tmp_path / "a", cases=cases, force=True)
    assert not (tmp_path / "a" / "stray").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary left


def test_a_crash_leaves_nothing_half_written(tmp_path, monkeypatch):
    real = suite.build_case

    def crash_on_third(case):
        if case is CASES[2]:
            raise RuntimeError("simulated crash")
        return real(case)

    monkeypatch.setattr(suite, "build_case", crash_on_third)
    with pytest.raises(RuntimeError, match="simulated crash"):
        write_suite(tmp_path / "suite", cases=CASES[:4])
    assert list(tmp_path.iterdir()) == []


def test_load_suite_detects_tampering(suite_copy):
    path = suite_copy / "initial_ups4_pre1" / "output.npy"
    array = np.load(path)
    array.flat[0] += 1
    np.save(path, array)
    with pytest.raises(FileError, match=r"output\.npy: checksum mismatch with manifest\.json$"):
        load_suite(suite_copy)


def test_load_suite_rejects_bad_manifests(suite_copy):
    manifest = suite_copy / "manifest.json"
    manifest.write_text("{not json")
    with pytest.raises(FileError, match=r"manifest\.json: is not valid JSON"):
        load_suite(suite_copy)
    manifest.write_text('{"format_version": 2}')
    with pytest.raises(FileError, match=r"manifest\.json: is not a refups golden manifest"):
        load_suite(suite_copy)
    manifest.unlink()
    with pytest.raises(FileError, match=r"manifest\.json: no such file$"):
        load_suite(suite_copy)


def test_load_npy_rejects_pickles_and_non_numbers(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FileError, match=r"obj\.npy: holds pickled objects, which refups never loads$"):
        load_npy(tmp_path / "obj.npy")
    np.save(tmp_path / "c.npy", np.zeros(2, complex))
    with pytest.raises(FileError, match=r"c\.npy: must hold real numbers; got dtype complex128$"):
        load_npy(tmp_path / "c.npy")
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(FileError, match=r"junk\.npy: is not a valid \.npy file"):
        load_npy(tmp_path / "junk.npy")


def test_committed_manifest_names_the_current_generator():
    # Provenance: the hash in manifest.json is that of the code that made the
    # suite. After changing any of suite.GENERATOR_SOURCES, regenerate with
    # `refups golden --out data/golden --force` (test_committed_suite_equals_a_fresh_generation
    # then shows whether the data changed too).
    manifest = json.loads((COMMITTED / "manifest.json").read_text())
    assert manifest["generator_sha256"] == suite._generator_hash()
    assert manifest["refups_version"] == suite.__version__
    assert manifest["n_cases"] == len(manifest["cases"]) == len(CASES)


def test_load_case_refuses_what_is_not_a_case(tmp_path):
    from refups.suite import load_case

    with pytest.raises(FileError, match=r"case\.txt: no such file$"):
        load_case(tmp_path)
    (tmp_path / "case.txt").write_text("refups-case 9\n")
    with pytest.raises(FileError, match=r"case\.txt: must start with 'refups-case 1'$"):
        load_case(tmp_path)
    (tmp_path / "case.txt").write_text("refups-case 1\nups_k_size 8\nn_levels -1\n")
    with pytest.raises(FileError, match=r"case\.txt: n_levels must be an integer >= 0; got '-1'$"):
        load_case(tmp_path)
    (tmp_path / "case.txt").write_text("refups-case 1\nups_k_size 8\n")
    with pytest.raises(FileError, match=r"case\.txt: lacks ups_preconcat_k_size, n_ups_kernel, "
                                        r"n_ups_preconcat_kernel, n_levels$"):
        load_case(tmp_path)
