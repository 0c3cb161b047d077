"""Hostile and careless input.

Every problem is one line on the command line (exit status 2, no traceback)
or one ValueError/TypeError from the API, naming the file and the entry,
before anything large is allocated and before anything is written. Writing
replaces only regular files (or nothing), with the modes the umask allows;
suites are replaced whole, one writer at a time; SIGINT and SIGTERM clean up.
"""

import contextlib
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from helpers import copy_expected, optional
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refups
from refups import Upsampling, UpsamplingSeparableSymmetricConv2d, UpsamplingSeparableSymmetricConvTranspose2d
from refups import cli, limits
from refups.inprocess import import_target
from refups import io as rio
from refups import output as rout
from refups._validation import as_real_array, check_count, check_latents, compute_dtype, output_nbytes
from refups.cases import CASES
from refups.io import FileError, load_npy, load_params, params_from_json, params_to_json, read_json
from refups.suite import load_suite, write_suite
from refups.verification import select_cases, verify

fcntl = pytest.importorskip("fcntl")  # POSIX: locks, FIFOs, signals

ROOT = pathlib.Path(refups.__file__).resolve().parents[1]  # the refups being tested, for subprocesses
ONE_LINE = re.compile(r"^refups (run|golden|verify|explain|check|add-case): error: [^\n]*\n\Z")


# -- building hostile files -------------------------------------------------------------------

def npy_header(shape, descr="<f8", fortran=False):
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"


def npy_bytes(header, data=b"", version=1):
    """A ``.npy`` file: magic, version, header length, ``header`` (padded as NumPy does), ``data``."""
    text = header.encode("utf-8" if version == 3 else "latin-1", errors="replace")
    width = 2 if version == 1 else 4
    text += b" " * (-(8 + width + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + len(text).to_bytes(width, "little") + text + data


def write_npz(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def torch_save(path, obj):
    torch = optional("torch")
    torch.save(obj(torch) if callable(obj) else obj, path)


class Unlisted:
    """A class torch's weights-only loader refuses (its error message carries terminal escapes)."""


@pytest.fixture()
def user(tmp_path):
    """Good inputs for ``refups run``: three latents, parameters as JSON, and the command line."""
    for i, size in enumerate((4, 2, 1)):
        np.save(tmp_path / f"y{i}.npy", np.ones((1, 1, size, size)))
    up = Upsampling(4, 3, 1, 1)
    (tmp_path / "p.json").write_text(json.dumps(params_to_json(up.get_param())))
    out = tmp_path / "out.npy"
    argv = ["run", "--params", tmp_path / "p.json", "--latents",
            *(tmp_path / f"y{i}.npy" for i in range(3)), "--out", out]
    return tmp_path, argv, out


def run_main(capsys, argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line(status, err, pattern):
    assert status == 2, err
    assert ONE_LINE.match(err), err
    assert "Traceback" not in err and "\x1b" not in err
    assert re.search(pattern, err.rstrip("\n")), err


def set_params(tmp, text):
    (tmp / "p.json").write_text(text)


def json_entry(**entries):
    return json.dumps({"format": "refups-params/1", "params": entries})


GOOD_BIAS = {"shape": [1], "values": [0.0]}


def replace(argv, old, new):
    return [new if str(a) == str(old) else a for a in argv]


# -- the command line: one line, exit 2, nothing written --------------------------------------------

def _latent_header_2_40(tmp, argv):
    (tmp / "y0.npy").write_bytes(npy_bytes(npy_header((2**40,))))
    return argv


def _npz(members):
    def build(tmp, argv):
        write_npz(tmp / "p.npz", members)
        return replace(argv, tmp / "p.json", tmp / "p.npz")
    return build


def _params(text):
    def build(tmp, argv):
        set_params(tmp, text)
        return argv
    return build


def _pt(obj):
    def build(tmp, argv):
        torch_save(tmp / "p.pt", obj)
        return replace(argv, tmp / "p.json", tmp / "p.pt")
    return build


def _latent_bytes(data):
    def build(tmp, argv):
        (tmp / "y0.npy").write_bytes(data)
        return argv
    return build


def _out(make):
    def build(tmp, argv):
        target = make(tmp)
        return replace(argv, tmp / "out.npy", target)
    return build


def _fifo(tmp):
    os.mkfifo(tmp / "fifo.npy")
    return tmp / "fifo.npy"


def _null_link(tmp):
    (tmp / "null.npy").symlink_to(os.devnull)
    return tmp / "null.npy"


def _truncated_pt(tmp, argv):
    argv = _pt(lambda torch: {"a": torch.zeros(1)})(tmp, argv)
    (tmp / "p.pt").write_bytes((tmp / "p.pt").read_bytes()[:200])
    return argv


def _latent_npz(tmp, argv):
    with open(tmp / "y0.npy", "wb") as handle:
        np.savez(handle, a=np.zeros(1))
    return argv


def _npz_twice(tmp, argv):
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(tmp / "p.npz", "w") as archive:
        archive.writestr("a.npy", npy_bytes(npy_header((0,))))
        archive.writestr("a.npy", npy_bytes(npy_header((0,))))
    return replace(argv, tmp / "p.json", tmp / "p.npz")


def _coarsest_first(tmp, argv):
    return argv[:4] + [tmp / "y2.npy", tmp / "y1.npy", tmp / "y0.npy"] + argv[7:]


def _extra(*flags):
    return lambda tmp, argv: argv + list(flags)


def _explain(*flags):
    return lambda tmp, argv: ["explain", *flags]


def _many_params(n):
    return _params(json.dumps({f"p{i}": [0.0] for i in range(n)}))


HEADER_LIMIT = "x" * 20000

CLI_CASES = [
    # .npy headers that claim more than the file holds, or are malformed
    ("latent-header-claims-2**40", _latent_header_2_40,
     r"y0\.npy: is not a valid \.npy file: its header describes shape \(1099511627776,\) of float64 "
     r"\(8,796,093,022,208 bytes\), but 0 bytes follow it$"),
    ("latent-header-over-numpy-limit",
     _latent_bytes(npy_bytes(npy_header((1,)) + " " * 20000, bytes(8), version=2)),
     r"y0\.npy: has a \.npy header of 20\d{3} bytes, over the limit of 10000 "
     r"\(refups\.limits\.MAX_NPY_HEADER, NumPy's max_header_size\)$"),
    ("latent-trailing-bytes", _latent_bytes(npy_bytes(npy_header((1,)), bytes(9))),
     r"y0\.npy: is not a valid \.npy file: its header describes shape \(1,\) of float64 \(8 bytes\), "
     r"but 9 bytes follow it$"),
    ("latent-fifo", lambda tmp, argv: replace(argv, tmp / "y0.npy", _fifo(tmp)),
     r"fifo\.npy: is a FIFO, not a regular file$"),
    ("latent-folder", lambda tmp, argv: replace(argv, tmp / "y0.npy", tmp),
     r": is a folder, not a regular file$"),
    ("latent-npz", _latent_npz,
     r"y0\.npy: is an \.npz archive; expected a single \.npy array$"),
    ("latents-coarsest-first", _coarsest_first,
     r"latents\[1\] must be no larger than latents\[0\]: level 0 is the finest "
     r"\(H_1 <= H_0 and W_1 <= W_0\); got shapes \(1, 1, 2, 2\) and \(1, 1, 1, 1\)$"),
    # .npz archives
    ("npz-member-claims-2**40", _npz({"conv2ds.0.bias.npy": npy_bytes(npy_header((2**40,)))}),
     r"p\.npz: is not a valid \.npy file: its header describes shape \(1099511627776,\) .* "
     r"\(member 'conv2ds\.0\.bias\.npy'\)$"),
    ("npz-not-a-zip", lambda tmp, argv: ((tmp / "p.npz").write_bytes(b"hello"),
                                         replace(argv, tmp / "p.json", tmp / "p.npz"))[1],
     r"p\.npz: is not a valid \.npz archive \(File is not a zip file\)$"),
    ("npz-pickled-member", _npz({"a.npy": npy_bytes(npy_header((1,), "|O"), bytes(8))}),
     r"p\.npz: holds pickled objects, which refups never loads \(member 'a\.npy'\)$"),
    ("npz-other-member", _npz({"a.txt": b"hello"}), r"p\.npz: holds 'a\.txt', which is not an \.npy member$"),
    ("npz-member-twice", _npz_twice, r"p\.npz: holds the member 'a\.npy' twice$"),
    # parameters as JSON
    ("params-a-list", _params('{"format": "refups-params/1", "params": [1, 2]}'),
     r"p\.json: 'params' must be an object mapping names to values; got a list$"),
    ("params-null", _params('{"format": "refups-params/1", "params": null}'),
     r"p\.json: 'params' must be an object mapping names to values; got null$"),
    ("params-other-format", _params('{"format": "refups-params/9", "params": {}}'),
     r"p\.json: has format 'refups-params/9'; this refups reads 'refups-params/1'$"),
    ("params-top-level-list", _params("[1, 2]"), r"p\.json: must hold a JSON object; got a list$"),
    ("params-nested-100000", _params("[" * 100000 + "]" * 100000),
     r"p\.json: nests 100000 levels deep, more than 64 \(refups\.limits\.MAX_JSON_DEPTH\)$"),
    ("params-integer-10**400", _params('{"a": [1' + "0" * 400 + "]}"),
     r"p\.json: holds an integer of 401 digits, which is out of the float64 range$"),
    ("params-1e400", _params('{"a": [1e400]}'), r"p\.json: holds the number 1e400, which is out of the float64 range$"),
    ("params-nan", _params('{"a": [NaN]}'), r"p\.json: holds NaN; numbers must be finite$"),
    ("params-infinity", _params('{"a": [-Infinity]}'), r"p\.json: holds -Infinity; numbers must be finite$"),
    ("params-shape-without-values", _params(json_entry(**{"conv2ds.0.bias": {"shape": [1]}})),
     r"p\.json: conv2ds\.0\.bias: an entry needs 'values' or 'hex'; got keys \['shape'\]$"),
    ("params-string-value", _params('{"conv2ds.0.bias": ["1+2j"]}'),
     r"p\.json: conv2ds\.0\.bias: values must be finite numbers; got '1\+2j'$"),
    ("params-boolean-value", _params('{"conv2ds.0.bias": [true]}'),
     r"p\.json: conv2ds\.0\.bias: values must be finite numbers; got true$"),
    ("params-hex-infinity", _params(json_entry(**{"conv2ds.0.bias": {"hex": ["inf"]}})),
     r"p\.json: conv2ds\.0\.bias: values must be finite numbers; got inf$"),
    ("params-repeated-key", _params('{"conv2ds.0.bias": [0], "conv2ds.0.bias": [1]}'),
     r"p\.json: holds the key 'conv2ds\.0\.bias' twice in one object$"),
    ("params-not-utf8", lambda tmp, argv: ((tmp / "p.json").write_bytes(b'{"\xff": 1}'), argv)[1],
     r"p\.json: is not valid JSON \(not UTF-8 at byte 2\)$"),
    ("params-index-999999999",
     _params('{"conv_transpose2ds.999999999.parametrizations.weight.original": [0.25, 0.75]}'),
     r"p\.json: conv_transpose2ds\.999999999\.parametrizations\.weight\.original: filter index 999999999 "
     r"is over the limit of 4096 filters \(refups\.limits\.MAX_FILTERS\)$"),
    ("params-index-gap", _params(json_entry(**{"conv2ds.0.bias": GOOD_BIAS, "conv2ds.2.bias": GOOD_BIAS})),
     r"p\.json: conv2ds\.2\.bias: conv2ds indices must run 0, 1, 2, \.\.\. without gaps; 1 is missing$"),
    ("params-half-kernel-too-long",
     _params(json.dumps({"conv2ds.0.parametrizations.weight.original": [0.0] * 2049})),
     r"p\.json: conv2ds\.0\.parametrizations\.weight\.original: a half-kernel of 2049 values is over the "
     r"limit of 2048 \(kernel sizes up to 4096, refups\.limits\.MAX_KERNEL_SIZE\)$"),
    ("params-too-many", _many_params(65537),
     r"p\.json: holds 65537 parameters, over the limit of 65536 \(refups\.limits\.MAX_PARAMETERS\)$"),
    # PyTorch files
    ("pt-whole-checkpoint", _pt(lambda torch: {"state_dict": {"a": torch.zeros(1)}, "epoch": 3}),
     r"p\.pt: state_dict: must be a tensor; got dict \(a whole checkpoint\? save its state dict on its own\)$"),
    ("pt-int-value", _pt({"a": 3}), r"p\.pt: a: must be a tensor; got int$"),
    ("pt-int-key-with-prefix",
     lambda tmp, argv: _pt(lambda torch: {3: torch.zeros(1)})(tmp, argv) + ["--prefix", "up."],
     r"p\.pt: entry 3 must have a string name; got int$"),
    ("pt-complex", _pt(lambda torch: {"a": torch.zeros(2, dtype=torch.complex64)}),
     r"p\.pt: a: must hold real numbers; got torch\.complex64$"),
    ("pt-not-a-state-dict", _pt(lambda torch: [torch.zeros(1)]),
     r"p\.pt: must hold a state dict \(names to tensors\); got list$"),
    ("pt-unlisted-class", _pt({"a": Unlisted()}),
     r"p\.pt: is not a loadable weights-only state dict \(Unsupported global: GLOBAL [\w.]+Unlisted was "
     r"not an allowed global by default\.\)$"),
    ("pt-truncated", _truncated_pt,
     r"p\.pt: is not a loadable weights-only state dict \([^()]*\.\)$"),
    # sizes on the command line
    ("run-ups-k-size-4e9", _extra("--ups-k-size", "4000000000"),
     r"^refups run: error: --ups-k-size must be at most 4096 \(refups\.limits\.MAX_KERNEL_SIZE\); got 4000000000$"),
    ("run-preconcat-k-size-4e9", _extra("--ups-preconcat-k-size", "4000000001"),
     r"--ups-preconcat-k-size must be at most 4096 .*; got 4000000001$"),
    ("explain-k-4e9", _explain("--k", "4000000000"),
     r"^refups explain: error: --k must be at most 4096 \(refups\.limits\.MAX_KERNEL_SIZE\); got 4000000000$"),
    # where the output goes
    ("out-fifo", _out(_fifo), r"fifo\.npy: is a FIFO; refups only replaces regular files$"),
    ("out-link-to-dev-null", _out(_null_link), r"null\.npy: is a symbolic link; refups only replaces regular files$"),
    ("out-folder", _out(lambda tmp: tmp), r": is a folder; refups only replaces regular files$"),
    ("out-no-folder", _out(lambda tmp: tmp / "nowhere" / "o.npy"),
     r"nowhere/o\.npy: cannot be written: no folder .*nowhere$"),
]


@pytest.mark.parametrize("build, pattern", [case[1:] for case in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_hostile_input_on_the_command_line_is_one_line_and_exit_2(user, capsys, build, pattern):
    tmp, argv, out = user
    argv = build(tmp, argv)
    before = sorted(p.name for p in tmp.iterdir())
    status, stdout, err = run_main(capsys, argv)
    assert_one_line(status, err, pattern)
    assert stdout == ""
    assert not out.exists() and sorted(p.name for p in tmp.iterdir()) == before  # nothing written
    assert os.path.realpath(tmp / "null.npy") == os.devnull or not (tmp / "null.npy").is_symlink()


def test_the_good_inputs_of_that_table_run(user, capsys):
    tmp, argv, out = user
    status, stdout, err = run_main(capsys, argv)
    assert status == 0 and err == "" and stdout.startswith(f"wrote {out}: shape (1, 3, 4, 4)")
    np.testing.assert_array_equal(np.load(out), Upsampling(4, 3, 1, 1)([np.ones((1, 1, s, s)) for s in (4, 2, 1)]))


def test_run_replaces_a_regular_file_and_reads_pt_npz_and_prefixes(user, capsys):
    tmp, argv, out = user
    out.write_bytes(b"old")
    params = Upsampling(4, 3, 1, 1).get_param()
    torch_save(tmp / "p.pt", lambda torch: {f"up.{k}": torch.from_numpy(v) for k, v in params.items()})
    assert run_main(capsys, replace(argv, tmp / "p.json", tmp / "p.pt") + ["--prefix", "up."])[0] == 0
    first = np.load(out)
    np.savez(tmp / "p.npz", **params)
    assert run_main(capsys, replace(argv, tmp / "p.json", tmp / "p.npz"))[0] == 0
    np.testing.assert_array_equal(np.load(out), first)
    assert not [p for p in tmp.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_torch_error_is_one_clean_sentence():
    plain = rio._reason(RuntimeError("first failed. Second sentence.\nmore"))
    assert plain == "first failed."
    marked = rio._reason(ValueError("Weights only load failed. \x1b[1mbold\x1b[0m text.\n\t"
                                          "WeightsUnpickler error: Unsupported thing x.y here. Please\n\nCheck"))
    assert marked == "Unsupported thing x.y here."
    assert rio._reason(RuntimeError("\n\nno full stop\nsecond line")) == "no full stop"
    assert rio._reason(EOFError()) == "EOFError"
    assert len(rio._reason(RuntimeError("x" * 500))) == 203


def test_torch_missing_is_one_line(user, capsys, monkeypatch):
    tmp, argv, _ = user
    torch_save(tmp / "p.pt", {})
    monkeypatch.setitem(sys.modules, "torch", None)
    status, _, err = run_main(capsys, replace(argv, tmp / "p.json", tmp / "p.pt"))
    assert_one_line(status, err, r"p\.pt: reading a PyTorch state dict needs torch installed \(python -m pip install torch\)$")


def test_a_pt_tensor_that_cannot_become_an_array_names_its_entry(tmp_path):
    torch = optional("torch")
    torch.save({"w": torch.zeros(2).to_sparse()}, tmp_path / "s.pt")
    with pytest.raises(FileError, match=r"s\.pt: w: cannot be read as an array \(.+\)$"):
        load_params(tmp_path / "s.pt")
    torch.save({"w": torch.ones(2, dtype=torch.float16), "b": torch.tensor([True])}, tmp_path / "ok.pt")
    loaded = load_params(tmp_path / "ok.pt")
    assert [(k, v.dtype, v.tolist()) for k, v in loaded.items()] == [("w", np.float64, [1.0, 1.0]),
                                                                   ("b", np.float64, [1.0])]


def test_pt_files_over_the_allocation_limit_are_refused_before_loading(tmp_path, monkeypatch):
    torch = optional("torch")
    torch.save({"w": torch.zeros(1000)}, tmp_path / "w.pt")
    size = (tmp_path / "w.pt").stat().st_size
    monkeypatch.setenv("REFUPS_MAX_BYTES", str(size))
    assert list(load_params(tmp_path / "w.pt")) == ["w"]
    monkeypatch.setenv("REFUPS_MAX_BYTES", "1000")
    with pytest.raises(FileError, match=r"w\.pt: its tensors would need 5\.\d+ KiB, over the limit of 1000 bytes"):
        load_params(tmp_path / "w.pt")


@pytest.mark.parametrize("count", [limits.MAX_PARAMETERS, limits.MAX_PARAMETERS + 1])
def test_parameter_count_limit_for_every_format(tmp_path, count):
    torch = optional("torch")
    names = [f"p{i}" for i in range(count)]
    write_npz(tmp_path / "p.npz", {f"{n}.npy": npy_bytes(npy_header((0,))) for n in names})
    torch.save(dict.fromkeys(names, torch.zeros(0)), tmp_path / "p.pt")
    for suffix in ("npz", "pt"):
        if count > limits.MAX_PARAMETERS:
            with pytest.raises(FileError, match=rf"p\.{suffix}: holds {count} parameters, over the limit"):
                load_params(tmp_path / f"p.{suffix}")
        else:
            assert len(load_params(tmp_path / f"p.{suffix}")) == count


# -- verify: the suite's manifest and the candidate's files -----------------------------------------

@pytest.fixture(scope="module")
def small_suite(tmp_path_factory):
    return write_suite(tmp_path_factory.mktemp("suite") / "golden", cases=CASES[:2])


@pytest.fixture()
def suite(small_suite, tmp_path):
    copy = tmp_path / "golden"
    subprocess.run(["cp", "-r", str(small_suite), str(copy)], check=True)
    return copy


def _manifest(change):
    def build(manifest):
        change(manifest)
        return json.dumps(manifest)
    return build


def _case0(key, value):
    return _manifest(lambda m: m["cases"][0].__setitem__(key, value))


def _file0(pop=None, value=None):
    def change(m):
        if pop:
            m["cases"][0]["files"][0].pop(pop)
        else:
            m["cases"][0]["files"][0] = value
    return _manifest(change)


MANIFEST_CASES = [
    ("nested-100000", lambda m: "[" * 100000 + "]" * 100000,
     r"manifest\.json: nests 100000 levels deep, more than 64"),
    ("file-without-shape", _file0(pop="shape"),
     r"manifest\.json: case 0 \(s4_worked_example\): files\[0\]\.shape must be a list of integers >= 0; got None$"),
    ("file-without-path", _file0(pop="path"),
     r"manifest\.json: case 0 \(s4_worked_example\): files\[0\]\.path must be a plain file name .*; got None$"),
    ("file-a-string", _file0(value="latent_0.npy"),
     r"manifest\.json: case 0 \(s4_worked_example\): files\[0\] must be an object; got str$"),
    ("stage-without-file", _manifest(lambda m: m["cases"][0]["stages"].insert(0, "transition_9.upsampled")),
     r"manifest\.json: case 0 \(s4_worked_example\): stage 'transition_9\.upsampled' has no entry in 'files'$"),
    ("no-float32-tolerance", _manifest(lambda m: m["cases"][0]["tolerance"].pop("float32")),
     r"manifest\.json: case 0 \(s4_worked_example\): 'tolerance' must have a float32 entry with rtol and atol$"),
    ("empty-levels-unknown", _case0("empty_levels", "skip"),
     r"manifest\.json: case 0 \(s4_worked_example\): 'empty_levels' must be one of 'stop', 'continue', 'error'; "
     r"got 'skip'$"),
    ("tolerance-a-string", _case0("tolerance", "1e-12"),
     r"manifest\.json: case 0 \(s4_worked_example\): 'tolerance' must be an object; got str$"),
    ("rtol-a-string", _manifest(lambda m: m["cases"][0]["tolerance"]["float64"].__setitem__("rtol", "0")),
     r"manifest\.json: case 0 \(s4_worked_example\): tolerance\.float64\.rtol must be a finite number >= 0; "
     r"got '0'$"),
    ("zero-cases", _manifest(lambda m: m.update(cases=[], n_cases=0)),
     r"manifest\.json: 'cases' is empty; a suite has at least one case$"),
    ("config-a-list", _case0("config", []),
     r"manifest\.json: case 0 \(s4_worked_example\): 'config' must be an object of integers >= 0$"),
    ("config-a-string-size", _manifest(lambda m: m["cases"][1]["config"].__setitem__("ups_k_size", "8")),
     r"manifest\.json: case 1 \(initial_ups4_pre1\): 'config' must be an object of integers >= 0$"),
    ("nan", lambda m: json.dumps(m).replace('"rtol": 0.0', '"rtol": NaN', 1),
     r"manifest\.json: holds NaN; numbers must be finite$"),
    ("manifest-a-fifo", None, r"manifest\.json: is a FIFO, not a regular file$"),
    # An unknown layout version is refused first: a newer suite may differ anywhere.
    ("format-version-5", _manifest(lambda m: m.update(format_version=5)),
     r"manifest\.json: has format_version 5; this refups \(version [^)]+\) reads format_version 2, 3 or 4 only$"),
    ("format-version-5-new-layout", lambda m: json.dumps({"format_version": 5, "suites": {}}),
     r"manifest\.json: has format_version 5; this refups \(version [^)]+\) reads format_version 2, 3 or 4 only$"),
    ("no-format-version", _manifest(lambda m: m.pop("format_version")),
     r"manifest\.json: has no format_version; this refups \(version [^)]+\) reads format_version 2, 3 or 4 only$"),
    ("format-version-a-string", _manifest(lambda m: m.update(format_version="2")),
     r"manifest\.json: has format_version '2'; .* reads format_version 2, 3 or 4 only$"),
    ("format-version-true", _manifest(lambda m: m.update(format_version=True)),
     r"manifest\.json: has format_version True; .* reads format_version 2, 3 or 4 only$"),
]


@pytest.mark.parametrize("build, pattern", [c[1:] for c in MANIFEST_CASES], ids=[c[0] for c in MANIFEST_CASES])
def test_broken_manifests_are_one_line_naming_manifest_json_and_the_entry(suite, tmp_path, capsys, build, pattern):
    path = suite / "manifest.json"
    if build is None:
        path.unlink()
        os.mkfifo(path)
    else:
        path.write_text(build(json.loads(path.read_text())))
    status, stdout, err = run_main(capsys, ["verify", tmp_path, "--golden", suite])
    assert_one_line(status, err, pattern)
    with pytest.raises(FileError, match=pattern):
        load_suite(suite)


def test_a_newer_suite_is_refused_even_when_the_candidate_would_pass(suite, tmp_path, capsys):
    candidate = copy_expected(suite, tmp_path / "cand")
    assert run_main(capsys, ["verify", candidate, "--golden", suite])[0] == 0
    path = suite / "manifest.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), format_version=5)))
    status, stdout, err = run_main(capsys, ["verify", candidate, "--golden", suite])
    assert stdout == ""  # no report, no verdict
    assert_one_line(status, err, rf"{re.escape(str(path))}: has format_version 5; .* reads format_version 2, 3 or 4 only$")


def test_a_format_version_2_suite_is_still_read_as_exact(suite, tmp_path, capsys):
    path = suite / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["cases"]:
        del entry["expected"], entry["source"], entry["empty_levels"]  # what version 2 did not have
    path.write_text(json.dumps(dict(manifest, format_version=2)))
    candidate = copy_expected(suite, tmp_path / "cand")
    report = verify(candidate, golden=suite)
    assert report["passed"] and {row["tier"] for row in report["cases"]} == {"exact"}


def test_a_format_version_3_case_follows_the_current_release_line(suite, tmp_path):
    path = suite / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["cases"]:
        del entry["empty_levels"]  # what version 3 did not have
    path.write_text(json.dumps(dict(manifest, format_version=3)))
    loaded, _ = load_suite(suite)
    assert {entry["empty_levels"] for entry in loaded["cases"]} == {"stop"}
    report = verify(copy_expected(suite, tmp_path / "cand"), golden=suite, profile="coolchic")
    assert report["passed"]


def test_a_candidate_output_claiming_2_40_values_fails_its_case_only(suite, tmp_path, capsys):
    candidate = tmp_path / "cand"
    for case in CASES[:2]:
        (candidate / case.id).mkdir(parents=True)
        np.save(candidate / case.id / "output.npy", np.load(suite / case.id / "output.npy"))
    (candidate / CASES[0].id / "output.npy").write_bytes(npy_bytes(npy_header((2**40,))))
    status, stdout, err = run_main(capsys, ["verify", candidate, "--golden", suite])
    assert status == 1 and err == ""
    row = next(line for line in stdout.splitlines() if line.startswith(CASES[0].id))
    assert "FAIL" in row and "output.npy is not a valid .npy file: its header describes shape (1099511627776,)" in row
    assert "verify: 1 passed, 1 failed" in stdout


# -- the API: ValueError / TypeError naming the argument ------------------------------------------------

def _broadcast(shape):
    return np.broadcast_to(np.float32(0), shape)  # any shape, no memory


API_CASES = [
    ("ups-k-size-2**34", lambda: Upsampling(2**34, 7, 1, 1), ValueError,
     r"^ups_k_size must be at most 4096 \(refups\.limits\.MAX_KERNEL_SIZE\); got 17179869184$"),
    ("preconcat-k-size-2**34+1", lambda: Upsampling(8, 2**34 + 1, 1, 1), ValueError,
     r"^ups_preconcat_k_size must be at most 4096 .*; got 17179869185$"),
    ("n-ups-kernel-10**12", lambda: Upsampling(8, 7, 10**12, 1), ValueError,
     r"^n_ups_kernel must be at most 4096 \(refups\.limits\.MAX_FILTERS\); got 1000000000000$"),
    ("n-preconcat-10**12", lambda: Upsampling(8, 7, 1, 10**12), ValueError,
     r"^n_ups_preconcat_kernel must be at most 4096 \(refups\.limits\.MAX_FILTERS\); got 1000000000000$"),
    ("ups-k-size-4098", lambda: Upsampling(4098, 7, 1, 1), ValueError, r"^ups_k_size must be at most 4096 .*; got 4098$"),
    ("preconcat-4097", lambda: Upsampling(8, 4097, 1, 1), ValueError, r"; got 4097$"),
    ("n-ups-kernel-4097", lambda: Upsampling(8, 7, 4097, 1), ValueError, r"^n_ups_kernel must be at most 4096 .*; got 4097$"),
    ("layer-2**34", lambda: UpsamplingSeparableSymmetricConvTranspose2d(2**34), ValueError,
     r"^kernel_size must be at most 4096 \(refups\.limits\.MAX_KERNEL_SIZE\); got 17179869184$"),
    ("layer-4097", lambda: UpsamplingSeparableSymmetricConv2d(4097), ValueError, r"^kernel_size must be at most 4096"),
    ("coarsest-first", lambda: Upsampling(4, 3, 1, 1)([np.zeros((1, 1, s, s)) for s in (2, 4, 8)]), ValueError,
     r"^latents\[1\] must be no larger than latents\[0\]: level 0 is the finest \(H_1 <= H_0 and W_1 <= W_0\); "
     r"got shapes \(1, 1, 4, 4\) and \(1, 1, 2, 2\)$"),
    ("coarser-wider", lambda: check_latents([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 5))]), ValueError,
     r"^latents\[1\] must be no larger than latents\[0\]"),
    ("coarser-taller", lambda: check_latents([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 5, 2))]), ValueError,
     r"^latents\[1\] must be no larger than latents\[0\]"),
    ("output-over-the-limit", lambda: check_latents([_broadcast((1, 1, 4096, 4096)), _broadcast((1, 10**4, 2048, 2048))]),
     ValueError, r"^the output of these latents would need 625\.06 GiB, over the limit of 4 GiB "
                 r"\(set REFUPS_MAX_BYTES to change it\)$"),
    ("range-10**12", lambda: as_real_array(range(10**12), "values"), ValueError,
     r"^values would need 7\.28 TiB, over the limit of 4 GiB"),
    ("range-10**30", lambda: as_real_array(range(10**30), "values"), ValueError, r"^values would need 64 EiB"),
    ("params-json-a-list", lambda: params_from_json({"format": "refups-params/1", "params": [1, 2]}, "p.json"),
     FileError, r"^p\.json: 'params' must be an object mapping names to values; got a list$"),
    ("params-json-shape-only", lambda: params_from_json({"w": {"shape": [1]}}, "p.json"), FileError,
     r"^p\.json: w: an entry needs 'values' or 'hex'; got keys \['shape'\]$"),
    ("params-json-nan", lambda: params_from_json({"w": [float("nan")]}, "p.json"), FileError,
     r"^p\.json: w: values must be finite numbers; got nan$"),
    ("params-json-huge-int", lambda: params_from_json({"w": [10**400]}, "p.json"), FileError,
     r"^p\.json: w: values must be finite numbers; got 1000000000"),
    ("params-json-complex", lambda: params_from_json({"w": [1j]}, "p.json"), FileError,
     r"^p\.json: w: values must be finite numbers; got 1j$"),
    ("params-json-numpy-int", lambda: params_from_json({"w": [np.int64(1)]}, "p.json"), FileError,
     r"^p\.json: w: values must be finite numbers; got (np\.int64\()?1\)?$"),
    ("params-json-object-value", lambda: params_from_json({"w": [{}]}, "p.json"), FileError,
     r"^p\.json: w: values must be finite numbers; got an object$"),
    ("params-json-null-value", lambda: params_from_json({"w": [None]}, "p.json"), FileError,
     r"^p\.json: w: values must be finite numbers; got null$"),
    ("params-json-ragged", lambda: params_from_json({"w": [[1.0], [1.0, 2.0]]}, "p.json"), FileError,
     r"^p\.json: w: values must form a rectangular array$"),
    ("params-json-bad-shape", lambda: params_from_json({"w": {"shape": [2, 2], "values": [1.0]}}, "p.json"),
     FileError, r"^p\.json: w: 'shape' \[2, 2\] needs 4 values; got 1$"),
    ("params-json-shape-bool", lambda: params_from_json({"w": {"shape": [True], "values": [1.0]}}, "p.json"),
     FileError, r"^p\.json: w: 'shape' must be a list of integers >= 0; got \[True\]$"),
    ("params-json-shape-negative", lambda: params_from_json({"w": {"shape": [-1], "values": []}}, "p.json"),
     FileError, r"^p\.json: w: 'shape' must be a list of integers >= 0; got \[-1\]$"),
    ("params-json-shape-33-dims", lambda: params_from_json({"w": {"shape": [1] * 33, "values": [1.0]}}, "p.json"),
     FileError, r"^p\.json: w: 'shape' must be a list of integers >= 0; got \[1, 1, "),
    ("params-json-shape-a-string", lambda: params_from_json({"w": {"shape": "1", "values": [1.0]}}, "p.json"),
     FileError, r"^p\.json: w: 'shape' must be a list of integers >= 0; got 1$"),
    ("params-json-hex-not-list", lambda: params_from_json({"w": {"hex": "0x1p0"}}, "p.json"), FileError,
     r"^p\.json: w: 'hex' must be a list of float\.hex\(\) strings$"),
    ("params-json-hex-number", lambda: params_from_json({"w": {"hex": [1.0]}}, "p.json"), FileError,
     r"^p\.json: w: 'hex' must be a list of float\.hex\(\) strings$"),
    ("params-json-hex-garbage", lambda: params_from_json({"w": {"hex": ["0xzz"]}}, "p.json"), FileError,
     r"^p\.json: w: 'hex' must be a list of float\.hex\(\) strings$"),
    ("params-json-hex-overflow", lambda: params_from_json({"w": {"hex": ["0x1p99999"]}}, "p.json"), FileError,
     r"^p\.json: w: 'hex' must be a list of float\.hex\(\) strings$"),
    ("params-json-hex-disagrees", lambda: params_from_json({"w": {"hex": ["0x1p0"], "values": [2.0]}}, "p.json"),
     FileError, r"^p\.json: w: decimal values disagree with their hex patterns$"),
    ("params-json-control-name", lambda: params_from_json({"a\nb": "x"}, "p.json"), FileError,
     r"^p\.json: a\\nb: values must be finite numbers; got 'x'$"),
    ("params-json-long-name", lambda: params_from_json({"n" * 100: "x"}, "p.json"), FileError,
     r"^p\.json: n{80}\.\.\.: values must be finite numbers"),
    ("params-json-none", lambda: params_from_json(None, "p.json"), FileError, r"^p\.json: must hold a JSON object; got null$"),
    ("params-json-string", lambda: params_from_json("x", "p.json"), FileError, r"must hold a JSON object; got a string$"),
    ("params-json-number", lambda: params_from_json(3, "p.json"), FileError, r"must hold a JSON object; got a number$"),
    ("params-json-float", lambda: params_from_json(0.5, "p.json"), FileError, r"must hold a JSON object; got a number$"),
    ("params-json-bool", lambda: params_from_json(True, "p.json"), FileError, r"must hold a JSON object; got a boolean$"),
    ("set-param-many-unexpected", lambda: Upsampling(4, 3, 0, 0).set_param({f"x{i}": 0 for i in range(12)}),
     ValueError, r"got unexpected \['x0', 'x1', .*, 'x9'\] and 2 more$"),
    ("set-param-many-missing", lambda: Upsampling(4, 3, 12, 0).set_param({}),
     ValueError, r"got missing \['conv_transpose2ds\.0\.parametrizations\.weight\.original', .*\] and 2 more$"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_hostile_input_to_the_api_raises_a_clear_error(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert "\n" not in str(info.value)


def test_the_limits_themselves_are_allowed():
    up = Upsampling(4096, 4095, 2, 1)
    assert up.conv_transpose2ds[0].weight.shape == (2048,) and up.conv2ds[0].weight.shape == (2048,)
    many = Upsampling(4, 1, 4096, 4096)
    assert many.n_ups_kernel == many.n_ups_preconcat_kernel == 4096
    assert UpsamplingSeparableSymmetricConvTranspose2d(4096).kernel_size == 4096
    assert as_real_array(range(3), "r").tolist() == [0, 1, 2]


def test_the_allocation_limit_follows_refups_max_bytes(monkeypatch):
    # 2 filters of 4 + 1 and 1 of 3 + 1 numbers: 14 float64 = 112 bytes of parameters.
    monkeypatch.setenv("REFUPS_MAX_BYTES", "112")
    Upsampling(8, 5, 2, 1)
    monkeypatch.setenv("REFUPS_MAX_BYTES", "111")
    with pytest.raises(ValueError, match=r"^the parameters of these filters would need 112 bytes, over the limit "
                                         r"of 111 bytes \(set REFUPS_MAX_BYTES to change it\)$"):
        Upsampling(8, 5, 2, 1)
    monkeypatch.setenv("REFUPS_MAX_BYTES", str(8 * 32))  # output (1, 2, 4, 4) float64
    assert check_latents([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2))])[0].shape == (1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"^the output of these latents would need 384 bytes"):
        check_latents([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 1))])
    for text in ("lots", "-1", "0", ""):
        monkeypatch.setenv("REFUPS_MAX_BYTES", text)
        with pytest.raises(ValueError, match=rf"^REFUPS_MAX_BYTES must be a whole number of bytes >= 1; got '{text}'$"):
            limits.max_bytes()
    monkeypatch.delenv("REFUPS_MAX_BYTES")
    assert limits.max_bytes() == 4 << 30


@pytest.mark.parametrize("n, text", [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1 KiB"), (1536, "1.5 KiB"),
                                     (1024**2 - 1, "1024 KiB"), (1024**2, "1 MiB"), (5 << 30, "5 GiB"),
                                     (3 << 40, "3 TiB"), (2**50, "1 PiB"), (2**60 - 2**40, "1024 PiB"),
                                     (2**60, "1 EiB"), (2**70, "1024 EiB"), (1234567, "1.18 MiB")])
def test_format_bytes(n, text):
    assert limits.format_bytes(n) == text


def test_output_size_follows_the_level_that_stops_the_loop():
    assert output_nbytes([(2, 3, 5, 7)], np.float64) == 2 * 3 * 5 * 7 * 8
    assert output_nbytes([(1, 2, 8, 8), (1, 3, 4, 4), (1, 1, 2, 2)], np.float32) == 6 * 64 * 4
    assert output_nbytes([(1, 0, 8, 8), (1, 3, 4, 4), (1, 1, 2, 2)], np.float64) == 4 * 16 * 8
    assert output_nbytes([(1, 2, 8, 8), (1, 0, 4, 4), (1, 5, 2, 2)], np.float64) == 5 * 4 * 8
    up = Upsampling(4, 3, 1, 1)
    for shapes in ([(1, 0, 8, 8), (1, 3, 4, 4), (1, 1, 2, 2)], [(1, 2, 8, 8), (1, 0, 4, 4), (1, 5, 2, 2)],
                   [(2, 1, 3, 5), (2, 2, 2, 3)]):
        for dtype in (np.float32, np.float64):
            assert up([np.zeros(s, dtype) for s in shapes]).nbytes == output_nbytes(shapes, dtype)


@pytest.mark.parametrize("value, dtype", [(np.int8, np.float64), (np.float16, np.float32), (np.float32, np.float32),
                                          (np.float64, np.float64), (np.bool_, np.float64)])
def test_compute_dtype(value, dtype):
    assert compute_dtype(value) == dtype
    assert check_latents([np.zeros((1, 1, 1, 1), value)])[0].dtype == dtype


def test_check_count_and_as_real_array_messages():
    assert check_count(np.int64(3), "n") == 3 and type(check_count(np.int64(3), "n")) is int
    assert check_count(0, "n") == 0
    with pytest.raises(ValueError, match=r"^n must be an integer >= 0; got -1$"):
        check_count(-1, "n")
    with pytest.raises(TypeError, match=r"^n must be an integer >= 0; got NoneType None$"):
        check_count(None, "n")
    with pytest.raises(TypeError, match=r"^w must have a real dtype \(bool, integer, float32 or float64\); "
                                        r"got dtype float128$"):
        as_real_array(np.zeros(1, np.longdouble), "w")
    with pytest.raises(ValueError, match=r"^w must be a rectangular numeric array; got "):
        as_real_array([[1.0], [1.0, 2.0]], "w")
    torch = optional("torch")
    np.testing.assert_array_equal(as_real_array(torch.ones(2, requires_grad=True), "w"), [1.0, 1.0])


@pytest.mark.parametrize("latents, message", [
    ([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 1, 2))], r"latents\[1\] must be at least half the size of latents\[0\]"),
    ([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 1))], r"latents\[1\] must be at least half the size of latents\[0\]"),
    ([np.zeros((2, 1, 4, 4)), np.zeros((1, 1, 2, 2))], r"latents\[1\] must have the batch size B = 2"),
    ([np.zeros((1, 1, 4, 1))], None), ([np.zeros((1, 1, 1, 4))], None),
    ([np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 1))], None),
    ([np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 4, 4))], None),
])
def test_level_size_rules_at_their_boundaries(latents, message):
    if message is None:
        assert [y.shape for y in check_latents(latents)] == [y.shape for y in latents]
    else:
        with pytest.raises(ValueError, match=message):
            check_latents(latents)


def test_check_latents_returns_the_common_dtype_without_copying_float64():
    y = np.zeros((1, 1, 2, 2))
    levels = check_latents([y, np.zeros((1, 1, 1, 1), np.float32)])
    assert levels[0] is y and levels[1].dtype == np.float64
    assert [z.dtype for z in check_latents([np.zeros((1, 1, 2, 2), np.float32)] * 2)] == [np.float32] * 2
    with pytest.raises(TypeError, match=r"^latents must be a list of 4-D .*; got set$"):
        check_latents({1})


# -- the .npy reader, against NumPy's own writer -------------------------------------------------------------

@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(array=hnp.arrays(st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", ">i2", "|u1", "|b1"]),
                        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)),
       fortran=st.booleans(), version=st.sampled_from([(1, 0), (2, 0), (3, 0)]))
def test_load_npy_reads_what_numpy_writes(tmp_path, array, fortran, version):
    array = np.asfortranarray(array) if fortran else array
    path = tmp_path / "a.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array(handle, array, version=version)
    loaded = load_npy(path)
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    assert (loaded.flags.c_contiguous, loaded.flags.f_contiguous) == (array.flags.c_contiguous,
                                                                      array.flags.f_contiguous)
    np.testing.assert_array_equal(loaded, array)
    loaded.flat[:1] = 0  # the array is the caller's, writable
    np.savez(tmp_path / "a.npz", a=array)
    np.testing.assert_array_equal(load_params(tmp_path / "a.npz")["a"], array)


NPY_CASES = [
    ("short", b"\x93NUM", r"is not a valid \.npy file: it does not start with the \.npy magic bytes$"),
    ("empty", b"", r"is not a valid \.npy file: it does not start with the \.npy magic bytes$"),
    ("version-4", b"\x93NUMPY\x04\x00" + bytes(10), r"is not a valid \.npy file: unknown format version 4\.0$"),
    ("version-1.1", b"\x93NUMPY\x01\x01" + bytes(10), r"unknown format version 1\.1$"),
    ("ends-in-header", npy_bytes(npy_header((1,)))[:40], r"is not a valid \.npy file: it ends inside its header$"),
    ("header-length-only", b"\x93NUMPY\x01\x00\x10", r"it ends inside its header$"),
    ("v2-header-over-limit", b"\x93NUMPY\x02\x00" + (10001).to_bytes(4, "little"),
     r"has a \.npy header of 10001 bytes, over the limit of 10000"),
    ("v1-header-at-limit-but-short", b"\x93NUMPY\x01\x00" + (10000).to_bytes(2, "little") + b" " * 100,
     r"it ends inside its header$"),
    ("not-a-literal", npy_bytes("{'descr': f8}"), r"its header is not a Python literal$"),
    ("nested-parentheses", npy_bytes("(" * 2000 + ")" * 2000), r"its header is not a Python literal$"),
    ("not-a-dict", npy_bytes("[1, 2]"), r"its header must be a dict with the keys 'descr', 'fortran_order' and 'shape'$"),
    ("missing-key", npy_bytes("{'descr': '<f8', 'shape': (1,)}"), r"its header must be a dict with the keys"),
    ("extra-key", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (), 'x': 1}"),
     r"its header must be a dict with the keys"),
    ("shape-a-list", npy_bytes(npy_header([1])), r"its shape must be a tuple of at most 64 integers >= 0; got \[1\]$"),
    ("shape-negative", npy_bytes(npy_header((-1,))), r"its shape must be a tuple .*; got \(-1,\)$"),
    ("shape-bool", npy_bytes(npy_header((True,))), r"its shape must be a tuple .*; got \(True,\)$"),
    ("shape-float", npy_bytes(npy_header((1.0,))), r"its shape must be a tuple .*; got \(1\.0,\)$"),
    ("shape-65-dims", npy_bytes(npy_header((1,) * 65), bytes(8)), r"its shape must be a tuple of at most 64"),
    ("fortran-not-bool", npy_bytes(npy_header((1,), fortran=0)), r"fortran_order must be True or False; got 0$"),
    ("structured", npy_bytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}", bytes(8)),
     r"must hold real numbers; got a structured dtype$"),
    ("subarray-dtype", npy_bytes(npy_header((1,), "(2,)<f8"), bytes(16)), r"must hold real numbers; got dtype \('<f8', \(2,\)\)$"),
    ("unknown-dtype", npy_bytes(npy_header((1,), "garbage")), r"is not a valid \.npy file: unknown dtype 'garbage'$"),
    ("complex", npy_bytes(npy_header((1,), "<c16"), bytes(16)), r"must hold real numbers; got dtype complex128$"),
    ("text", npy_bytes(npy_header((1,), "<U1"), bytes(4)), r"must hold real numbers; got dtype <U1$"),
    ("datetime", npy_bytes(npy_header((1,), "<M8[s]"), bytes(8)), r"must hold real numbers; got dtype datetime64\[s\]$"),
    ("pickled", npy_bytes(npy_header((1,), "|O"), bytes(8)), r"holds pickled objects, which refups never loads$"),
    ("v3-not-utf8", b"\x93NUMPY\x03\x00" + (64).to_bytes(4, "little") + b"\xff" * 64, r"its header is not UTF-8$"),
    ("data-short", npy_bytes(npy_header((2,)), bytes(15)), r"its header describes shape \(2,\) of float64 \(16 bytes\), but 15 bytes follow it$"),
    ("data-long", npy_bytes(npy_header((2,)), bytes(17)), r"but 17 bytes follow it$"),
    ("big-endian-huge", npy_bytes(npy_header((2**20, 2**20), ">i2")), r"shape \(1048576, 1048576\) of >i2 \(2,199,023,255,552 bytes\)"),
]


@pytest.mark.parametrize("data, pattern", [c[1:] for c in NPY_CASES], ids=[c[0] for c in NPY_CASES])
def test_malformed_npy_files_raise_file_error_naming_the_file(tmp_path, data, pattern):
    (tmp_path / "x.npy").write_bytes(data)
    with pytest.raises(FileError, match=r"x\.npy: .*" + pattern) as info:
        load_npy(tmp_path / "x.npy")
    assert info.value.path == str(tmp_path / "x.npy")
    write_npz(tmp_path / "x.npz", {"m.npy": data})
    with pytest.raises(FileError, match=r"x\.npz: .*" + pattern.rstrip("$") + r".* \(member 'm\.npy'\)$"):
        load_params(tmp_path / "x.npz")


def test_npy_within_the_allocation_limit_loads_and_over_it_is_refused(tmp_path, monkeypatch):
    np.save(tmp_path / "a.npy", np.zeros(4))
    monkeypatch.setenv("REFUPS_MAX_BYTES", "32")
    assert load_npy(tmp_path / "a.npy").shape == (4,)
    monkeypatch.setenv("REFUPS_MAX_BYTES", "31")
    with pytest.raises(FileError, match=r"a\.npy: holds an array too large to load: shape \(4,\) of float64 would "
                                        r"need 32 bytes, over the limit of 31 bytes \(set REFUPS_MAX_BYTES"):
        load_npy(tmp_path / "a.npy")
    np.savez(tmp_path / "a.npz", a=np.zeros(2), b=np.zeros(2))
    with pytest.raises(FileError, match=r"a\.npz: its members would need 2\d\d bytes, over the limit of 31 bytes"):
        load_params(tmp_path / "a.npz")


def _zip_with(tmp_path, change):
    data = npy_bytes(npy_header((4,)), bytes(32))
    write_npz(tmp_path / "c.npz", {"w.npy": data})
    raw = bytearray((tmp_path / "c.npz").read_bytes())
    change(raw)
    (tmp_path / "c.npz").write_bytes(bytes(raw))


@pytest.mark.parametrize("change, reason", [
    (lambda raw: raw.__setitem__(raw.index(b"PK\x01\x02") + 10, 99), r"That compression method is not supported"),
    (lambda raw: raw.__setitem__(raw.index(b"PK\x01\x02") - 1 - 22, 1), r"Bad CRC-32 for file 'w\.npy'"),
    (lambda raw: raw.__setitem__(raw.index(b"PK\x01\x02") + 8, 1), "File .* is encrypted, password required for extraction"),
])
def test_npz_problems_inside_the_zip_name_the_member(tmp_path, change, reason):
    _zip_with(tmp_path, change)
    with pytest.raises(FileError, match=rf"c\.npz: is not a valid \.npz archive \({reason}\) "
                                        rf"\(member 'w\.npy'\)$"):
        load_params(tmp_path / "c.npz")


@pytest.mark.parametrize("error, text", [(OSError(5, "Input/output error"), "Input/output error"),
                                         (OSError("disk gone"), "disk gone")])
def test_npy_read_errors_are_file_errors(tmp_path, monkeypatch, error, text):
    np.save(tmp_path / "a.npy", np.zeros(2))

    def broken(*args):
        raise error

    monkeypatch.setattr(rio, "_read_npy", broken)
    with pytest.raises(FileError, match=rf"a\.npy: cannot be read \({text}\)$"):
        load_npy(tmp_path / "a.npy")


def test_a_file_that_shrinks_while_read_is_refused(tmp_path):
    data = npy_bytes(npy_header((2,)), bytes(16))

    class Shrinking:
        def __init__(self):
            self.stream = __import__("io").BytesIO(data)

        def read(self, n=-1):
            return self.stream.read(n)

        def readinto(self, buffer):
            return 3

    with pytest.raises(FileError, match=r"x\.npy: is not a valid \.npy file: it is shorter than its header says"):
        rio._read_npy(Shrinking(), len(data), "x.npy")


def test_unreadable_files_say_so(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    path = tmp_path / "secret.npy"
    np.save(path, np.zeros(1))
    path.chmod(0)
    with pytest.raises(FileError, match=r"secret\.npy: cannot be read \(Permission denied\)$"):
        load_npy(path)


def test_missing_files_and_suffixes(tmp_path):
    for name in ("p.json", "p.npz", "p.pt", "p.txt", "y.npy"):
        call = load_npy if name.endswith(".npy") else load_params
        with pytest.raises(FileError, match=rf"{re.escape(name)}: no such file$"):
            call(tmp_path / name)
    (tmp_path / "p.TXT").write_text("{}")
    with pytest.raises(FileError, match=r"p\.TXT: must end in \.json, \.npz or \.pt; got '\.TXT'$"):
        load_params(tmp_path / "p.TXT")
    (tmp_path / "P.JSON").write_text('{"a": [1]}')
    (tmp_path / "p.PTH").write_bytes(b"")
    assert list(load_params(tmp_path / "P.JSON")) == ["a"]
    optional("torch")
    with pytest.raises(FileError, match=r"p\.PTH: is not a loadable weights-only state dict"):
        load_params(tmp_path / "p.PTH")


def test_sha256_reads_in_blocks_and_refuses_special_files(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"ab" * (1 << 20) + b"c")
    import hashlib
    assert rio.sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(FileError, match=r"fifo: is a FIFO, not a regular file$"):
        rio.sha256(tmp_path / "fifo")


@pytest.mark.parametrize("read, name", [(rio.sha256, "fifo"), (load_npy, "fifo.npy"), (load_params, "fifo.npz"),
                                        (load_params, "fifo.json"), (read_json, "fifo.json")])
def test_a_fifo_without_writer_is_refused_without_blocking(tmp_path, read, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(_raised(read, fifo)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # a blocking open waits for a writer: give it one, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join()
        pytest.fail(f"{read.__name__} blocked on a FIFO with no writer")
    assert len(outcome) == 1 and isinstance(outcome[0], FileError)
    assert str(outcome[0]).endswith(f"{name}: is a FIFO, not a regular file")


def _raised(function, *args):
    try:
        function(*args)
    except Exception as error:  # the test checks which one
        return error
    return None


# -- JSON ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('{"a": "[[[[", "b": [[1]]}', {"a": "[[[[", "b": [[1]]}),
    ('{"a": "\\"[[[[\\\\"}', {"a": '"[[[[\\'}),
    ('[' * 64 + ']' * 64, eval('[' * 64 + ']' * 64)),
    ('{"x": -0, "y": 1e308, "z": -1.5e-320, "i": 123456789012345678901234567890}',
     {"x": 0, "y": 1e308, "z": -1.5e-320, "i": 123456789012345678901234567890}),
    ('"' + "]" * 100 + '"', "]" * 100),
])
def test_read_json_accepts_what_is_within_the_limits(tmp_path, text, expected):
    (tmp_path / "a.json").write_text(text)
    assert read_json(tmp_path / "a.json") == expected


@pytest.mark.parametrize("text, pattern", [
    ("[" * 65 + "]" * 65, r"nests 65 levels deep, more than 64"),
    ('{"a": ' * 65 + "1" + "}" * 65, r"nests 65 levels deep"),
    ("[" * 65, r"nests 65 levels deep"),
    ('{"a": [1,}', r"is not valid JSON \(Expecting value: line 1 column 10 \(char 9\)\)$"),
    ("", r"is not valid JSON \(Expecting value"),
    ("1e999", r"holds the number 1e999, which is out of the float64 range$"),
    ("1." + "0" * 50 + "e999", r"holds the number 1\.0{38}\.\.\., which is out of the float64 range$"),
    ("-" + "9" * 400, r"holds an integer of 400 digits, which is out of the float64 range$"),
    ("Infinity", r"holds Infinity; numbers must be finite$"),
    ('{"a": 1, "a": 1}', r"holds the key 'a' twice in one object$"),
])
def test_read_json_refuses_what_is_not(tmp_path, text, pattern):
    (tmp_path / "a.json").write_text(text)
    with pytest.raises(FileError, match=r"a\.json: " + pattern):
        read_json(tmp_path / "a.json")


def test_json_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_JSON_BYTES", 10)
    (tmp_path / "a.json").write_text("[1, 2, 3]")  # 9 bytes
    assert read_json(tmp_path / "a.json") == [1, 2, 3]
    (tmp_path / "a.json").write_text("[1, 2, 34]")  # 10 bytes
    assert read_json(tmp_path / "a.json") == [1, 2, 34]
    (tmp_path / "a.json").write_text("[1, 2, 33] ")  # 11 bytes
    with pytest.raises(FileError, match=r"a\.json: is 11 bytes, over the limit of 10 bytes for JSON "
                                        r"\(refups\.limits\.MAX_JSON_BYTES\)$"):
        read_json(tmp_path / "a.json")


def test_params_json_round_trips_and_accepts_plain_mappings():
    params = {"a": np.array([0.1, -0.0, 1e-310]), "b": np.arange(6.0).reshape(2, 3), "c": np.array(2.0)}
    data = json.loads(json.dumps(params_to_json(params)))
    loaded = params_from_json(data)
    assert list(loaded) == ["a", "b", "c"]
    for name, value in params.items():
        assert loaded[name].shape == value.shape and loaded[name].tobytes() == value.tobytes()
    plain = params_from_json({"a": [[1, 2], [3, 4]], "b": 5, "c": {"values": [1.5]}, "d": {"hex": ["0x1p-1"]}})
    assert [(k, v.shape, v.dtype) for k, v in plain.items()] == [
        ("a", (2, 2), np.float64), ("b", (), np.float64), ("c", (1,), np.float64), ("d", (1,), np.float64)]
    assert plain["d"][0] == 0.5
    nested = params_from_json({"w": {"shape": [2, 1], "values": [[1.0], [2.0]], "hex": ["0x1p0", "0x1p1"]}})
    assert nested["w"].tolist() == [[1.0], [2.0]]


# -- the layout of Cool-chic names -------------------------------------------------------------------------

def test_param_layout_limits_are_inclusive():
    names = {f"conv2ds.{i}.bias": [0.0] for i in range(limits.MAX_FILTERS)}
    rio.check_param_layout(names, "p")
    rio.check_param_layout({"conv_transpose2ds.0.parametrizations.weight.original": [0.0] * 2048,
                            "conv2ds.00.parametrizations.weight.original": [0.0] * 2048,
                            "conv2ds.0.bias": np.zeros(5000), "conv2ds.x.bias": 0, "other.7.bias": 0}, "p")
    with pytest.raises(FileError, match=r"^p: conv2ds\.4096\.bias: filter index 4096 is over the limit of 4096"):
        rio.check_param_layout({**names, "conv2ds.4096.bias": [0.0]}, "p")
    with pytest.raises(FileError, match=r"^p: conv2ds\.00001\.bias: filter index 00001 is over the limit"):
        rio.check_param_layout({"conv2ds.0.bias": [0.0], "conv2ds.00001.bias": [0.0]}, "p")
    with pytest.raises(FileError, match=r"^p: conv_transpose2ds\.1\.bias: conv_transpose2ds indices must run "
                                        r"0, 1, 2, \.\.\. without gaps; 0 is missing$"):
        rio.check_param_layout({"conv_transpose2ds.1.bias": [0.0], "conv2ds.0.bias": [0.0]}, "p")
    with pytest.raises(FileError, match=r"^p: conv_transpose2ds\.0\.parametrizations\.weight\.original: a half-kernel "
                                        r"of 2049 values"):
        rio.check_param_layout({"conv_transpose2ds.0.parametrizations.weight.original": [0.0] * 2049}, "p")
    with pytest.raises(FileError, match=r"conv2ds\.3\.parametrizations\.weight\.original: conv2ds indices .*; 2 is missing"):
        rio.check_param_layout({"conv2ds.1.bias": 0, "conv2ds.0.bias": 0,
                                "conv2ds.3.parametrizations.weight.original": [0.0]}, "p")


# -- writing: only over regular files, with the umask's modes ------------------------------------------------

def test_atomic_path_never_replaces_anything_but_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(os.devnull)
    (tmp_path / "folder").mkdir()
    for name, kind in (("fifo", "a FIFO"), ("link", "a symbolic link"), ("folder", "a folder")):
        with pytest.raises(FileError, match=rf"{name}: is {kind}; refups only replaces regular files$"):
            rout.save_npy(tmp_path / name, np.zeros(1))
        with pytest.raises(FileError, match=rf"{name}: is {kind}"):
            rout.write_json(tmp_path / name, {})
    assert (tmp_path / "link").is_symlink() and os.readlink(tmp_path / "link") == os.devnull
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "folder", "link"]
    (tmp_path / "file").write_text("old")
    rout.write_json(tmp_path / "file", {"a": 1})
    assert json.loads((tmp_path / "file").read_text()) == {"a": 1}


def test_atomic_path_checks_again_before_replacing(tmp_path):
    target = tmp_path / "out.npy"
    with pytest.raises(FileError, match=r"out\.npy: is a FIFO"):
        with rout.atomic_path(target) as tmp:
            tmp.write_text("data")
            os.mkfifo(target)  # appears while the file is written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        rout.write_json(target, {"x": float("nan")})
    with pytest.raises(RuntimeError):
        with rout.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".out.json.") and tmp.name.endswith(".tmp")
            raise RuntimeError
    with rout.atomic_path(target) as tmp:
        tmp.unlink()
        tmp.write_text("new")  # a body may replace its temporary file
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_output_into_a_file_that_is_not_a_folder_says_so(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileError, match=r"file/o\.npy: cannot be written: no folder .*file$"):
        rout.save_npy(tmp_path / "file" / "o.npy", np.zeros(1))


@contextlib.contextmanager
def umask(value):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_modes_follow_the_umask_in_process(tmp_path, mask):
    with umask(mask):
        rout.save_npy(tmp_path / "a.npy", np.zeros(1))
        rout.write_json(tmp_path / "a.json", {})
        with rout.folder_writer(tmp_path / "deep" / "suite") as folder:
            (folder / "x").mkdir()
    assert (tmp_path / "a.npy").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~mask
    for folder in (tmp_path / "deep", tmp_path / "deep" / "suite", tmp_path / "deep" / "suite" / "x"):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~mask


def test_save_npy_refuses_non_numbers(tmp_path):
    with pytest.raises(TypeError, match=r"^array must have a real dtype; got dtype complex128$"):
        rout.save_npy(tmp_path / "a.npy", np.zeros(1, complex))
    assert list(tmp_path.iterdir()) == []


def _subprocess(code, *args, umask=0o022, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    script = f"import os, sys; os.umask({umask:#o}); {code}"
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                            (0o002, 0o664, 0o775)])
def test_written_files_and_folders_follow_the_umask(user, tmp_path, umask, file_mode, folder_mode):
    _, argv, out = user
    result = _subprocess("from refups.cli import main; sys.exit(main(sys.argv[1:]))", *argv, umask=umask)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == file_mode
    suite = tmp_path / "new" / "suite"
    result = _subprocess("from refups.suite import write_suite; from refups.cases import CASES; "
                         "write_suite(sys.argv[1], cases=CASES[:1])", suite, umask=umask)
    assert result.returncode == 0, result.stderr
    for path in [suite, *suite.rglob("*")]:
        assert path.stat().st_mode & 0o777 == (folder_mode if path.is_dir() else file_mode), path
    assert (tmp_path / "new").stat().st_mode & 0o777 == folder_mode


# -- replacing a suite ---------------------------------------------------------------------------------------

def test_write_suite_refuses_links_and_files_and_leaves_them_alone(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    (target / "keep").write_text("keep")
    (tmp_path / "link").symlink_to(target)
    for force in (False, True):
        with pytest.raises(FileError, match=r"link: is a symbolic link; refups only replaces folders$"):
            write_suite(tmp_path / "link", force=force, cases=CASES[:1])
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileError, match=r"file: is a regular file; refups only replaces folders$"):
        write_suite(tmp_path / "file", force=True, cases=CASES[:1])
    assert (tmp_path / "link").is_symlink() and [p.name for p in target.iterdir()] == ["keep"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "link", "real"]


def test_golden_force_onto_a_link_is_one_line(tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    status, _, err = run_main(capsys, ["golden", "--out", tmp_path / "link", "--force"])
    assert_one_line(status, err, r"link: is a symbolic link; refups only replaces folders$")


def test_stale_leftovers_are_removed_and_the_next_run_works(tmp_path):
    for name in (".golden.old", ".golden.0123456789abcdef.old", ".golden.fedcba9876543210.tmp"):
        (tmp_path / name / "case").mkdir(parents=True)
        (tmp_path / name / "case" / "file").write_text("stale")
    keep = [".goldenx.0123456789abcdef.tmp", ".golden.lock", ".golden.0123456789abcdef.txt", "golden.old"]
    for name in keep:
        (tmp_path / name).mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / ".golden.00000000000000aa.old").symlink_to(tmp_path / "elsewhere")
    (tmp_path / ".golden.00000000000000bb.tmp").write_text("a file")
    write_suite(tmp_path / "golden", cases=CASES[:1])
    write_suite(tmp_path / "golden", force=True, cases=CASES[1:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        keep + ["golden", "elsewhere", ".golden.00000000000000aa.old", ".golden.00000000000000bb.tmp"])
    assert [e["id"] for e in load_suite(tmp_path / "golden")[0]["cases"]] == [CASES[1].id]


def test_an_empty_folder_is_replaced_without_force_and_a_full_one_only_with_it(tmp_path):
    (tmp_path / "golden").mkdir()
    write_suite(tmp_path / "golden", cases=CASES[:1])
    with pytest.raises(FileError, match=r"golden: is not empty; pass --force to replace it$"):
        write_suite(tmp_path / "golden", cases=CASES[1:2])
    assert load_suite(tmp_path / "golden")[0]["cases"][0]["id"] == CASES[0].id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden"]


@contextlib.contextmanager
def locked(folder):
    fd = os.open(folder, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)


def test_a_second_writer_fails_at_once_and_a_later_one_works(tmp_path, capsys):
    write_suite(tmp_path / "golden", cases=CASES[:1])
    with locked(tmp_path):
        status, _, err = run_main(capsys, ["golden", "--out", tmp_path / "golden", "--force"])
        assert_one_line(status, err, rf"golden: another refups run is writing in {re.escape(str(tmp_path))}; "
                                     r"try again when it has finished$")
        with pytest.raises(FileError, match="another refups run"):
            write_suite(tmp_path / "fresh", cases=CASES[:1])
    assert load_suite(tmp_path / "golden")[0]["cases"][0]["id"] == CASES[0].id
    write_suite(tmp_path / "golden", force=True, cases=CASES[1:2])
    assert load_suite(tmp_path / "golden")[0]["cases"][0]["id"] == CASES[1].id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden"]


def test_two_concurrent_force_runs_one_wins_the_other_fails_cleanly(tmp_path):
    out = tmp_path / "golden"
    write_suite(out, cases=CASES[:1])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "refups", "golden", "--out", str(out), "--force"]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    assert sorted(status for status, _ in results) in ([0, 0], [0, 2])
    for status, err in results:
        if status == 2:
            assert re.fullmatch(r"refups golden: error: .*golden: another refups run is writing in .*\n", err)
    assert load_suite(out)[0]["n_cases"] == len(CASES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden"]


def test_a_failed_swap_puts_the_old_suite_back(tmp_path, monkeypatch):
    out = tmp_path / "golden"
    write_suite(out, cases=CASES[:1])
    real_rename = os.rename

    def rename(source, destination):
        if pathlib.Path(source).name.endswith(".tmp"):
            raise OSError(28, "No space left on device")
        real_rename(source, destination)

    monkeypatch.setattr(rio.os, "rename", rename)
    with pytest.raises(OSError, match="No space left"):
        write_suite(out, force=True, cases=CASES[1:2])
    monkeypatch.undo()
    assert load_suite(out)[0]["cases"][0]["id"] == CASES[0].id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["golden"]


# -- signals -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_golden_cleans_up_with_one_line(tmp_path, signum, status):
    out = tmp_path / "suite"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, "-m", "refups", "golden", "--out", str(out)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(tmp.is_dir() and any(tmp.iterdir()) for tmp in tmp_path.glob(".suite.*.tmp")):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.005)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == status, err
    assert err == f"refups golden: interrupted by {signal.Signals(signum).name}\n"
    assert list(tmp_path.iterdir()) == []


def test_interruptible_turns_signals_into_an_exception_and_ignores_repeats(capsys, monkeypatch):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(rout.Interrupted) as info:
        with rout.interruptible():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
            finally:
                os.kill(os.getpid(), signal.SIGINT)  # during cleanup: ignored
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.01)
    assert info.value.status == 143 and str(info.value) == "interrupted by SIGTERM"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

    def interrupted_run(args):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)

    monkeypatch.setattr(cli, "_cmd_run", interrupted_run)
    status, out, err = run_main(capsys, ["run", "--params", "p", "--latents", "y", "--out", "o"])
    assert (status, out, err) == (130, "", "refups run: interrupted by SIGINT\n")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_interruptible_does_nothing_outside_the_main_thread():
    seen = []

    def body():
        with rout.interruptible():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGTERM)]


def test_memory_errors_are_one_line(user, capsys, monkeypatch):
    tmp, argv, _ = user

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli, "load_latents", no_memory)
    status, _, err = run_main(capsys, argv)
    assert_one_line(status, err, r"^refups run: error: MemoryError$")


# -- fuzzing: only the documented errors, ever ---------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["0x1p0", "inf", "nan", "-0x1.8p3", "0xzz", "1e999"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
NAMES = st.sampled_from(["conv2ds.0.bias", "conv2ds.1.parametrizations.weight.original",
                         "conv_transpose2ds.0.parametrizations.weight.original", "conv_transpose2ds.7.bias",
                         "conv2ds.99999.bias", "format", "params", "x"]) | st.text(max_size=8)
ENTRIES = st.fixed_dictionaries({}, optional={"shape": JSON_VALUES | st.lists(st.integers(-2, 4), max_size=3),
                                              "values": JSON_VALUES | st.lists(st.floats(), max_size=4),
                                              "hex": JSON_VALUES | st.lists(st.sampled_from(["0x1p0", "inf"]))})
PARAMS_DOCUMENTS = (
    JSON_VALUES
    | st.dictionaries(NAMES, JSON_VALUES | ENTRIES, max_size=4)
    | st.fixed_dictionaries({"format": st.just("refups-params/1") | JSON_VALUES,
                             "params": st.dictionaries(NAMES, ENTRIES | JSON_VALUES, max_size=4) | JSON_VALUES}))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@given(document=PARAMS_DOCUMENTS, raw=st.none() | st.binary(max_size=40))
def test_fuzzed_params_json_gives_only_documented_errors(scratch, document, raw):
    path = scratch / "p.json"
    path.write_bytes(raw if raw is not None else json.dumps(document, allow_nan=True).encode())
    try:
        params = load_params(path)
        rio.check_param_layout(params, path)
        up = Upsampling(*cli.config_from_params(params))
        up.set_param(params)
    except (ValueError, TypeError) as error:
        assert "\n" not in str(error)
        assert str(error).startswith(str(path)) or not isinstance(error, FileError)


def _mutate(document, path, value):
    """``document`` with the item at ``path`` (indices or keys) replaced by ``value`` (None deletes it)."""
    if not path:
        return value
    container = document
    for key in path[:-1]:
        container = container[key]
    if value is None and isinstance(container, dict):
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return document


def _paths(document, prefix=()):
    yield prefix
    items = document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) else ()
    for key, value in items:
        yield from _paths(value, prefix + (key,))


@settings(max_examples=settings().max_examples * 2)
@given(data=st.data())
def test_fuzzed_manifest_gives_only_file_errors(small_suite, data):
    manifest = json.loads((small_suite / "manifest.json").read_text())
    paths = [p for p in _paths(manifest) if not p or p[0] in ("cases", "format_version")]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        manifest = _mutate(manifest, path, data.draw(JSON_VALUES))
        if not isinstance(manifest, (dict, list)):
            break
        paths = list(_paths(manifest))
    folder = small_suite.parent / "fuzzed"
    if not folder.exists():
        subprocess.run(["cp", "-r", str(small_suite), str(folder)], check=True)
    (folder / "manifest.json").write_text(json.dumps(manifest, allow_nan=True))
    try:
        loaded, _ = load_suite(folder)
    except FileError as error:
        assert "\n" not in str(error)
        return
    for profile in ("full", "coolchic", "bitstream"):
        try:
            select_cases(loaded, profile)
        except ValueError as error:
            assert str(error).startswith("no case of the suite is left to run")


HEADER_VALUES = (st.integers(-3, 2**64) | st.booleans() | st.none() | st.floats() | st.text(max_size=5)
                 | st.tuples() | st.lists(st.integers(0, 3), max_size=3).map(tuple)
                 | st.sampled_from(["<f8", "|O", "<c8", "|b1", ">i4", "(2,)<f4", "[('a', '<f8')]", "<U2", "V8"]))


@given(descr=HEADER_VALUES, fortran=HEADER_VALUES, shape=HEADER_VALUES | st.lists(st.integers(0, 2**40), max_size=3).map(tuple),
       keys=st.sets(st.sampled_from(["descr", "fortran_order", "shape", "x"])),
       version=st.sampled_from([1, 2, 3, 0, 255]), length_delta=st.integers(-3, 3) | st.just(0),
       data=st.binary(max_size=64), raw=st.none() | st.binary(max_size=80), as_member=st.booleans())
def test_fuzzed_npy_headers_give_only_file_errors(scratch, descr, fortran, shape, keys, version, length_delta, data,
                                                  raw, as_member):
    fields = {"descr": descr, "fortran_order": fortran, "shape": shape, "x": 1}
    header = "{" + ", ".join(f"{key!r}: {fields[key]!r}" for key in sorted(keys)) + "}"
    content = raw if raw is not None else npy_bytes(header, data, version=version if version in (1, 2, 3) else 1)
    if raw is None and version not in (1, 2, 3):
        content = content[:6] + bytes([version]) + content[7:]
    if raw is None and length_delta:
        width = 2 if version == 1 else 4
        length = max(0, int.from_bytes(content[8:8 + width], "little") + length_delta)
        content = content[:8] + length.to_bytes(width, "little") + content[8 + width:]
    if as_member:
        write_npz(scratch / "f.npz", {"m.npy": content})
        call, path = load_params, scratch / "f.npz"
    else:
        (scratch / "f.npy").write_bytes(content)
        call, path = load_npy, scratch / "f.npy"
    try:
        loaded = call(path)
    except FileError as error:
        assert "\n" not in str(error) and str(error).startswith(str(path))
        return
    array = loaded["m"] if as_member else loaded
    assert array.dtype.kind in "biuf" and array.nbytes <= len(content)


# -- details of reading and writing ---------------------------------------------------------------------------

@given(hnp.arrays(hnp.floating_dtypes(sizes=(32, 64)), hnp.array_shapes(min_dims=2, max_dims=4, min_side=2)))
def test_fortran_order_npy_files_read_as_the_same_array(tmp_path_factory, array):
    # MATLAB, Julia and Fortran writers produce column-major .npy files.
    path = tmp_path_factory.mktemp("fortran") / "f.npy"
    np.save(path, np.asfortranarray(array))
    assert b"'fortran_order': True" in path.read_bytes()[:128]
    loaded = load_npy(path)
    assert loaded.shape == array.shape and loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_refups_run_reads_fortran_order_latents(user, capsys):
    tmp, argv, out = user
    assert run_main(capsys, argv)[0] == 0
    c_order = np.load(out)
    y0 = np.arange(16.0).reshape(1, 1, 4, 4)
    np.save(tmp / "y0.npy", y0)
    assert run_main(capsys, argv)[0] == 0
    expected = np.load(out)
    np.save(tmp / "y0.npy", np.asfortranarray(y0))
    assert run_main(capsys, argv)[0] == 0
    np.testing.assert_array_equal(np.load(out), expected)
    assert not np.array_equal(expected, c_order)  # the latent read is the one that counts


def test_parameters_without_filters_mean_no_filters():
    # A single-level model has no filter at all; its parameter file is empty.
    assert cli.config_from_params({}) == (8, 7, 0, 0)
    only_ups = {"conv_transpose2ds.0.parametrizations.weight.original": np.zeros(2)}
    assert cli.config_from_params(only_ups) == (4, 7, 1, 0)
    assert cli.config_from_params({}, 6, 3) == (6, 3, 0, 0)


def test_refups_run_on_one_level_with_an_empty_parameter_file(tmp_path, capsys):
    y0 = np.arange(6.0).reshape(1, 1, 2, 3)
    np.save(tmp_path / "y0.npy", y0)
    (tmp_path / "p.json").write_text("{}")
    status, _, err = run_main(capsys, ["run", "--params", tmp_path / "p.json", "--latents", tmp_path / "y0.npy",
                                       "--out", tmp_path / "out.npy"])
    assert status == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), y0)  # S6.5: the level, unchanged

def test_a_file_that_cannot_be_opened_names_the_reason(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    for read in (load_npy, read_json, rio.sha256):
        with pytest.raises(FileError) as info:
            read(tmp_path / "file" / "a.npy")  # a path through a regular file: ENOTDIR, even as root
        assert str(info.value) == f"{tmp_path / 'file' / 'a.npy'}: cannot be read (Not a directory)"


def test_params_to_json_writes_the_documented_layout():
    assert params_to_json({"b": [0.1, 3], "w": np.float32(0.5)}) == {
        "format": "refups-params/1",
        "params": {"b": {"shape": [2], "values": [0.1, 3.0], "hex": ["0x1.999999999999ap-4", "0x1.8000000000000p+1"]},
                   "w": {"shape": [], "values": [0.5], "hex": ["0x1.0000000000000p-1"]}}}


def test_a_json_depth_limit_of_zero_still_takes_bare_values(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_JSON_DEPTH", 0)
    for text, value in (("7", 7), ('"[["', "[[")):
        (tmp_path / "a.json").write_text(text)
        assert read_json(tmp_path / "a.json") == value
    (tmp_path / "b.json").write_text("[]")
    with pytest.raises(FileError, match=r"b\.json: nests 1 levels deep, more than 0"):
        read_json(tmp_path / "b.json")


class _DetachOnly:
    """Array-like with a ``detach`` method but no ``cpu``: not a torch tensor, so never detached."""

    def detach(self):
        raise AssertionError("detach() called on an object that is not a tensor")

    def __array__(self, dtype=None, copy=None):
        return np.full((1, 1, 1, 1), 2.0)


def test_only_objects_with_detach_and_cpu_are_taken_as_tensors():
    assert as_real_array(_DetachOnly(), "x").tolist() == [[[[2.0]]]]


def test_show_escapes_and_cuts():
    assert rio._show("x" * 80) == "x" * 80 and rio._show("x" * 81) == "x" * 80 + "..."
    assert rio._show("a\tb", 4) == "a\\tb" and rio._show("a\tb", 3) == "a\\t..." and rio._show(12) == "12"
    assert rio._kind(0) == "a special file"


def test_error_reasons_keep_one_clean_sentence():
    assert rio._reason(RuntimeError("WeightsUnpickler error: Bad \x1b[1mglobal\x1b[0m x. More")) == "Bad global x."
    assert rio._reason(RuntimeError("x" * 200)) == "x" * 200


@pytest.mark.parametrize("entry, message", [
    ({"w": {"values": ["x"]}}, "w: values must be finite numbers; got 'x'"),
    ({"w": {"hex": ["0x1p0"], "values": ["x"]}}, "w: values must be finite numbers; got 'x'"),
    ({"w": ["y" * 100]}, "w: values must be finite numbers; got '" + "y" * 39 + "..."),
    ({"w": {"shape": list(range(1, 40)), "values": []}},
     "w: 'shape' must be a list of integers >= 0; got " + str(list(range(1, 40)))[:40] + "..."),
    ({"format": "f" * 50, "params": {}}, "has format '" + "f" * 40 + "...'; this refups reads 'refups-params/1'"),
    ({"format": "refups-params/1", "params": (1,)}, "'params' must be an object mapping names to values; got tuple"),
    ({"w": {"values": [1e400]}}, "w: values must be finite numbers; got inf"),
])
def test_params_json_messages_exactly(entry, message):
    with pytest.raises(FileError) as info:
        params_from_json(entry, "p.json")
    assert str(info.value) == "p.json: " + message
    with pytest.raises(FileError, match=r"^params: "):  # the default source
        params_from_json(entry)


def test_params_json_edges_that_are_allowed():
    big = sys.float_info.max
    loaded = params_from_json({"a": [big, -big], "b": {"shape": [0], "values": []},
                               "c": {"shape": [1] * 32, "values": [2.0]}, "d": {"shape": [2, 0], "values": []}})
    assert loaded["a"].tolist() == [big, -big] and loaded["b"].shape == (0,)
    assert loaded["c"].shape == (1,) * 32 and loaded["d"].shape == (2, 0)


def test_param_layout_names_long_indices_and_checks_past_other_names():
    with pytest.raises(FileError) as info:
        rio.check_param_layout({"conv2ds.0.bias": 0, "conv2ds." + "9" * 30 + ".bias": 0}, "p")
    assert str(info.value) == ("p: conv2ds." + "9" * 30 + ".bias: filter index " + "9" * 20 + "... is over the "
                               "limit of 4096 filters (refups.limits.MAX_FILTERS)")
    with pytest.raises(FileError, match=r"^p: conv2ds\.5\.bias: conv2ds indices"):
        rio.check_param_layout({"other": 0, "conv2ds.5.bias": 0}, "p")
    with pytest.raises(FileError) as info:
        rio.check_param_layout({"conv2ds.0.parametrizations.weight.original": [0.0] * 2049}, "p")
    assert str(info.value).endswith("a half-kernel of 2049 values is over the limit of 2048 (kernel sizes up to "
                                    "4096, refups.limits.MAX_KERNEL_SIZE)")


def test_npy_with_64_dimensions_loads_and_latin1_headers_decode_as_latin1(tmp_path):
    (tmp_path / "a.npy").write_bytes(npy_bytes(npy_header((1,) * 64), bytes(8)))
    assert load_npy(tmp_path / "a.npy").shape == (1,) * 64
    (tmp_path / "b.npy").write_bytes(npy_bytes(npy_header((1,), "\xe9"), bytes(8)))
    with pytest.raises(FileError, match=r"b\.npy: is not a valid \.npy file: unknown dtype '\xe9'$"):
        load_npy(tmp_path / "b.npy")
    (tmp_path / "c.npy").write_bytes(npy_bytes(npy_header((1,), "\xe9"), bytes(8), version=3))
    with pytest.raises(FileError, match=r"c\.npy: is not a valid \.npy file: unknown dtype '\xe9'$"):
        load_npy(tmp_path / "c.npy")


def test_pt_files_are_loaded_weights_only_even_when_the_environment_says_otherwise(tmp_path, monkeypatch):
    torch_save(tmp_path / "x.pt", {"a": Unlisted()})
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(FileError, match=r"x\.pt: is not a loadable weights-only state dict \(Unsupported global"):
        load_params(tmp_path / "x.pt")


def test_sparse_tensors_are_refused_with_torch_s_reason(tmp_path):
    torch = optional("torch")
    torch.save({"w": torch.zeros(2).to_sparse()}, tmp_path / "s.pt")
    with pytest.raises(FileError) as info:
        load_params(tmp_path / "s.pt")
    assert str(info.value).endswith("s.pt: w: cannot be read as an array (can't convert Sparse layout tensor to numpy.)")


def test_save_npy_writes_canonical_files_and_write_json_indents_by_one(tmp_path):
    rout.save_npy(tmp_path / "a.npy", np.arange(3.0).astype(">f8"))
    data = (tmp_path / "a.npy").read_bytes()
    assert data[6:8] == b"\x01\x00" and b"'descr': '<f8'" in data and b"'fortran_order': False" in data
    assert np.load(tmp_path / "a.npy").tolist() == [0.0, 1.0, 2.0]
    rout.save_npy(tmp_path / "f.npy", np.asfortranarray(np.arange(6).reshape(2, 3)))
    assert b"'fortran_order': False" in (tmp_path / "f.npy").read_bytes()
    assert np.load(tmp_path / "f.npy").tolist() == [[0, 1, 2], [3, 4, 5]]
    for value in (np.array(5.0), np.zeros((2, 0)), np.array([True, False]), np.arange(12.0)[::3]):
        rout.save_npy(tmp_path / "v.npy", value)
        loaded = load_npy(tmp_path / "v.npy")
        assert loaded.shape == value.shape and loaded.dtype == value.dtype and np.array_equal(loaded, value)
    rout.write_json(tmp_path / "a.json", {"a": [1, 2]})
    assert (tmp_path / "a.json").read_text() == '{\n "a": [\n  1,\n  2\n ]\n}\n'


def test_temporary_names_and_leftovers_of_killed_writers(tmp_path):
    name = rout._beside(tmp_path / "out.npy", ".tmp").name
    assert re.fullmatch(r"\.out\.npy\.[0-9a-f]{16}\.tmp", name)
    leftover = rout._beside(tmp_path / "suite", ".tmp")
    leftover.mkdir()
    (leftover / "half-written").write_text("x")
    with rout.folder_writer(tmp_path / "suite") as folder:
        (folder / "a").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["suite"]


# -- what the command line prints -----------------------------------------------------------------------------

def test_format_number_and_tokens():
    assert cli._format_number(None, "9.2e") == "        -"
    assert cli._format_number(float("inf"), "9.2e") == "      inf"
    assert cli._format_number(float("nan"), "9d") == "      nan"
    assert cli._format_number(1.5, "9.2e") == " 1.50e+00"
    assert cli._format_number(7, "9d") == "        7"
    assert cli._tokens(["a,b", "", "c,,d", "e"]) == ["a", "b", "c", "d", "e"]
    assert cli._numbers("1,-2.5,3e1", "--x") == [1.0, -2.5, 30.0]
    with pytest.raises(ValueError, match=r"^--half must be comma-separated numbers; got '1,a'$"):
        cli._numbers("1,a", "--half")


REPORT = {
    "golden": "GOLDEN", "profile": "full", "n_cases": 5, "tier": "pass", "verdict": "FAIL",
    "not_run": [{"id": "skipped_one", "reason": "skipped by --skip"}, {"id": "other", "reason": "not selected"}],
    "cases": [
        {"id": "a", "tolerance": {"dtype": "float64"}, "max_error_over_bound": 2.5e-05, "max_abs": 1e-13,
         "max_rel": 2e-14, "max_ulp": 3, "tier": "pass", "first_stage": None, "status": "PASS", "reason": "",
         "stderr": "ignored\nwhen passing"},
        {"id": "longer_id", "tolerance": {"dtype": "float32"}, "max_error_over_bound": 12.5,
         "max_abs": 3e-3, "max_rel": 0.04, "max_ulp": 123456, "tier": "fail",
         "first_stage": "transition_0.upsampled", "status": "FAIL", "reason": "holds 1 NaN value(s)",
         "stderr": "first line\nsecond line\nlast line " + "x" * 300},
        {"id": "c", "tolerance": {"dtype": "float64"}, "max_error_over_bound": 0.0, "max_abs": 0.0,
         "max_rel": 0.0, "max_ulp": 0, "tier": "exact", "first_stage": None, "status": "FAIL",
         "reason": "", "stderr": ""},
    ],
    "flags": {"few": {"cases": 3, "failed": 1}, "many": {"cases": 4, "failed": 2}, "none": {"cases": 2, "failed": 0}},
}

REPORT_TEXT = """\
golden: GOLDEN
profile full: running 3 of 5 cases; 2 not run:
  skipped_one: skipped by --skip
  other: not selected
columns: err/bound is the largest error over its acceptance bound; max rel and max ulp measure each error \
against S, the largest |expected| of its plane: error / S and error / ulp(S) in the candidate's dtype
case       dtype    err/bound    max abs    max rel    max ulp  tier   first stage                 verdict
a          float64    2.5e-05   1.00e-13   2.00e-14          3  pass   -                           PASS
longer_id  float32       12.5   3.00e-03   4.00e-02     123456  fail   transition_0.upsampled      FAIL  (holds 1 NaN value(s))
    stderr: last line {x}
c          float64          0   0.00e+00   0.00e+00          0  exact  -                           FAIL
failed flags: many (2 of 4 cases), few (1 of 3 cases)
verify: 1 passed, 2 failed
tiers: 1 exact, 1 pass, 0 warn, 1 fail (lowest passing tier: pass)
verdict for profile full: FAIL (1 of 3 cases passed)
""".format(x="x" * 190)


def test_the_verify_report_is_printed_as_pinned(capsys):
    cli._print_report(REPORT)
    assert capsys.readouterr().out == REPORT_TEXT
    cli._print_report(dict(REPORT, not_run=[], flags={}, cases=REPORT["cases"][:1], verdict="PASS"))
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "profile full: running 1 of 5 cases" and out[5].startswith("verify: 1 passed, 0 failed")


class _Named:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def test_profiles_and_flags_are_listed_as_pinned(capsys, monkeypatch):
    from refups import flags, profiles
    monkeypatch.setattr(profiles, "PROFILES", {"p1": _Named(summary="first", rules=("r1", "r2")),
                                               "p22": _Named(summary="second", rules=())})
    monkeypatch.setattr(flags, "FLAGS", {"f": _Named(bug="a bug", clauses=("S1", "S2"), profiles=("p1",)),
                                         "flag_two": _Named(bug="another", clauses=(), profiles=("p1", "p22"))})
    cases = [_Named(id="x", profiles=("p1",), flags=("f",)), _Named(id="y", profiles=("p1", "p22"), flags=())]
    cli._list_profiles(cases)
    assert capsys.readouterr().out == ("p1: first (2 of 2 cases)\n  - r1\n  - r2\n"
                                       "p22: second (1 of 2 cases)\n")
    cli._list_flags(cases)
    assert capsys.readouterr().out == ("f         a bug [S1, S2; profiles p1; 1 cases]\n"
                                       "flag_two  another [; profiles p1, p22; 0 cases]\n")
    monkeypatch.undo()
    for option, lister in (("--list-flags", cli._list_flags), ("--list-profiles", cli._list_profiles)):
        lister(CASES)
        expected = capsys.readouterr().out
        assert run_main(capsys, ["verify", option]) == (0, expected, "")


def test_verify_without_a_candidate_is_one_line(capsys):
    status, _, err = run_main(capsys, ["verify"])
    assert_one_line(status, err, r"^refups verify: error: CANDIDATE \(the folder of your outputs\) is required$")


def test_verify_writes_its_json_report_and_exits_by_verdict(suite, tmp_path, capsys):
    candidate = tmp_path / "cand"
    for case in CASES[:2]:
        (candidate / case.id).mkdir(parents=True)
        np.save(candidate / case.id / "output.npy", np.load(suite / case.id / "output.npy"))
    argv = ["verify", candidate, "--golden", suite, "--select", f"{CASES[0].id},{CASES[1].id}", "--dtype",
            "float64", "--json", tmp_path / "r.json", "--tier", "warn", "--profile", "full", "--timeout", "5"]
    status, out, err = run_main(capsys, argv)
    report = json.loads((tmp_path / "r.json").read_text())
    assert (status, err) == (0, "") and report["passed"] and report["tier"] == "warn"
    assert report["select"] == [CASES[0].id, CASES[1].id] and report["dtype"] == "float64"
    assert out.splitlines()[0] == f"golden: {suite}"
    np.save(candidate / CASES[1].id / "output.npy", np.load(suite / CASES[1].id / "output.npy") + 1)
    status, out, _ = run_main(capsys, argv[:-8] + ["--skip", CASES[0].id])
    assert status == 1 and out.splitlines()[-1].startswith("verdict for profile full: FAIL (0 of 1 cases")


def test_config_from_params_reads_sizes_and_counts():
    read = cli.config_from_params
    assert read({}) == (8, 7, 0, 0)
    assert read({}, 4, 3) == (4, 3, 0, 0)
    params = {"conv_transpose2ds.1.parametrizations.weight.original": np.zeros(3),
              "conv_transpose2ds.0.parametrizations.weight.original": np.zeros(5),
              "conv2ds.0.parametrizations.weight.original": [0.0, 1.0], "conv2ds.0.bias": [0.0],
              "conv2ds.4.bias": [0.0], "xconv2ds.9.parametrizations.weight.original": [0.0]}
    assert read(params) == (6, 3, 2, 1)
    assert read(params, 10, 9) == (10, 9, 2, 1)


def test_check_imports_the_target_and_reports(tmp_path, capsys, monkeypatch):
    (tmp_path / "mine_ok.py").write_text(
        "import numpy as np\nfrom refups import Upsampling\n"
        "def upsample(latents, params, config):\n"
        "    up = Upsampling(**config)\n    up.set_param(params)\n    return up(latents)\n"
        "def broken(latents, params, config):\n    return np.zeros((1, 1, 1, 1))\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    status, out, err = run_main(capsys, ["check", "mine_ok:upsample", "--max-examples", "3", "--seed", "1"])
    assert (status, err) == (0, "")
    assert out == "check mine_ok:upsample: PASS (3 drawn cases, profile coolchic, float64, seed 1)\n"
    assert str(tmp_path) in sys.path
    status, out, _ = run_main(capsys, ["check", "mine_ok:upsample", "--max-examples", "2", "--dtype", "float32",
                                       "--profile", "full"])
    assert status == 0 and out == "check mine_ok:upsample: PASS (2 drawn cases, profile full, float32)\n"
    status, out, _ = run_main(capsys, ["check", "mine_ok:broken", "--max-examples", "2", "--seed", "1"])
    assert status == 1 and out.startswith("check mine_ok:broken: FAIL (profile coolchic, float64)\n\n")
    for target, pattern in [
        ("nocolon", r"MODULE:FUNCTION must name a module and a function, as in mine:upsample; got 'nocolon'$"),
        (":f", r"got ':f'$"), ("m:", r"got 'm:'$"),
        ("no_such_module_here:f", r"cannot import module 'no_such_module_here' \(ModuleNotFoundError: "),
        ("mine_ok:missing", r"module 'mine_ok' has no function 'missing'$"),
        ("mine_ok:np", r"module 'mine_ok' has no function 'np'$"),
    ]:
        status, _, err = run_main(capsys, ["check", target])
        assert_one_line(status, err, r"^refups check: error: .*" + pattern)
    (tmp_path / "bad_syntax.py").write_text("def (:\n")
    status, _, err = run_main(capsys, ["check", "bad_syntax:f"])
    assert_one_line(status, err, r"cannot import module 'bad_syntax' \(SyntaxError: ")



COMMANDS = ("golden", "verify", "check", "explain", "run")


@pytest.mark.parametrize("argv, call", [
    (["--input", "1,2;3,4", "--half", "0.125,0.5", "--k", "4"], lambda e: e.explain_2d([[1, 2], [3, 4]], [0.125, 0.5], 4)),
    (["--input", "1,2;3,4", "--k", "6"], lambda e: e.explain_2d([[1, 2], [3, 4]], None, 6)),
    (["--input", "0,1,0", "--half", "0.1,0.2,0.3"], lambda e: e.explain_1d([0, 1, 0], [0.1, 0.2, 0.3], None)),
    (["--prefilter", "--k", "5", "--half", "0.5,1,0.25"],
     lambda e: e.explain_prefilter(np.array([[1.0, 2.0], [3.0, 4.0]]), [0.5, 1, 0.25], 5)),
    (["--prefilter", "--input", "1,2,3", "--k", "5"], lambda e: e.explain_prefilter(np.array([[1.0, 2.0, 3.0]]), None, 5)),
])
def test_explain_passes_every_argument_on(capsys, argv, call):
    from refups import explain
    assert cli.main(["explain", "--width", "0", *argv]) == 0
    assert capsys.readouterr().out == call(explain) + "\n"


@pytest.mark.parametrize("argv, pattern", [
    (["--half", "1,a"], r"--half must be comma-separated numbers; got '1,a'$"),
    (["--prefilter", "--k", "3", "--half", "1,2,3"], r"--k must be 2 \* len\(--half\) - 1 = 5 with --prefilter; got 3$"),
    (["--k", "8", "--half", "1,2,3"], r"--k must be 2 \* len\(--half\) = 6; got 8$"),
    (["--pyramid", "--input", "1,2|3,4,5"], r"--input levels: .*latents\[1\]"),
    (["--pyramid", "--input", "1,2|x"], r"--input"),
    (["--input", "1,x"], r"--input"),
])
def test_explain_argument_errors_name_the_argument(capsys, argv, pattern):
    status, _, err = run_main(capsys, ["explain", *argv])
    assert_one_line(status, err, r"^refups explain: error: " + pattern)


def test_run_trace_writes_the_intermediates_and_the_same_output(user, capsys):
    tmp, argv, out = user
    assert run_main(capsys, argv)[0] == 0
    plain = np.load(out)
    status, stdout, _ = run_main(capsys, argv + ["--trace", tmp / "trace", "--dense"])
    assert status == 0 and stdout.startswith(f"wrote {out}")
    np.testing.assert_allclose(np.load(out), plain, rtol=1e-12, atol=1e-12)
    written = sorted(p.name for p in (tmp / "trace").iterdir())
    assert "output.npy" in written and "params.json" in written and "latent_2.npy" in written
    np.testing.assert_array_equal(np.load(tmp / "trace" / "output.npy"), np.load(out))
    np.testing.assert_array_equal(np.load(tmp / "trace" / "latent_0.npy"), np.ones((1, 1, 4, 4)))


def test_run_passes_explicit_sizes_on(user, capsys):
    tmp, argv, out = user
    params = Upsampling(4, 5, 1, 1).get_param()
    (tmp / "p.json").write_text(json.dumps(params_to_json(params)))
    status, stdout, _ = run_main(capsys, argv + ["--ups-preconcat-k-size", "5", "--ups-k-size", "4"])
    assert status == 0 and "ups_preconcat_k_size=5" in stdout
    (tmp / "p.json").write_text(json.dumps(params_to_json({"conv2ds.1.bias": [0.0]})))
    status, _, err = run_main(capsys, argv)
    assert_one_line(status, err, r"p\.json: conv2ds\.1\.bias: conv2ds indices must run")


def test_run_explicit_pre_concatenation_size_wins_without_filters(tmp_path, capsys):
    np.save(tmp_path / "y0.npy", np.ones((1, 1, 2, 2)))
    (tmp_path / "p.json").write_text(json.dumps(params_to_json(Upsampling(4, 5, 1, 0).get_param())))
    argv = ["run", "--params", tmp_path / "p.json", "--latents", tmp_path / "y0.npy", "--out", tmp_path / "o.npy"]
    status, stdout, _ = run_main(capsys, argv + ["--ups-preconcat-k-size", "5"])
    assert status == 0 and "ups_preconcat_k_size=5" in stdout  # nothing in the file says 5; 7 by default
    status, stdout, _ = run_main(capsys, argv)
    assert status == 0 and "ups_preconcat_k_size=7" in stdout


def test_run_trace_computes_with_the_path_asked_for(tmp_path, capsys):
    # Random data: the dense and separable paths differ in the last bits, so equality shows which one ran.
    rng = np.random.default_rng(5)
    for i, size in enumerate((8, 4, 2)):
        np.save(tmp_path / f"y{i}.npy", rng.standard_normal((1, 1, size, size)))
    up = Upsampling(8, 7, 2, 2)
    up.set_param({name: rng.standard_normal(np.shape(value)) for name, value in up.get_param().items()})
    (tmp_path / "p.json").write_text(json.dumps(params_to_json(up.get_param())))
    argv = ["run", "--params", tmp_path / "p.json", "--latents", *(tmp_path / f"y{i}.npy" for i in range(3))]
    outputs = {}
    for name, extra in (("dense", ["--dense"]), ("separable", []),
                        ("dense_traced", ["--dense", "--trace", tmp_path / "t1"]),
                        ("separable_traced", ["--trace", tmp_path / "t2"])):
        assert run_main(capsys, argv + ["--out", tmp_path / f"{name}.npy", *extra])[0] == 0
        outputs[name] = np.load(tmp_path / f"{name}.npy")
    assert not np.array_equal(outputs["dense"], outputs["separable"])
    np.testing.assert_array_equal(outputs["dense_traced"], outputs["dense"])
    np.testing.assert_array_equal(outputs["separable_traced"], outputs["separable"])


def test_check_hands_its_options_to_check_implementation(tmp_path, capsys, monkeypatch):
    from refups import testing
    seen = {}
    monkeypatch.setattr(testing, "check_implementation", lambda candidate, **kwargs: seen.update(kwargs))
    (tmp_path / "mine_args.py").write_text("def f(latents, params, config):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run_main(capsys, ["check", "mine_args:f", "--profile", "full", "--dtype", "float32",
                             "--max-examples", "7", "--seed", "3", "--skip", "S6.4,S6.5", "--skip", "odd_crop",
                             "--select", "batch_mixing", "--keep-going"])[0] == 0
    assert seen == {"profile": "full", "dtype": "float32", "max_examples": 7, "seed": 3,
                    "skip": ["S6.4", "S6.5", "odd_crop"], "select": ["batch_mixing"], "keep_going": True}


def test_verify_and_check_defaults_are_the_documented_ones(tmp_path, capsys, monkeypatch):
    from refups import testing, verification
    seen = {}
    monkeypatch.setattr(verification, "verify", lambda candidate, **kwargs: seen.update(kwargs) or
                        dict(REPORT, passed=True))
    run_main(capsys, ["verify", tmp_path])
    assert seen["timeout"] == 60.0 and seen["profile"] == "full" and seen["tier"] == "pass"  # as --help says
    seen.clear()
    monkeypatch.setattr(testing, "check_implementation", lambda candidate, **kwargs: seen.update(kwargs))
    (tmp_path / "mine_defaults.py").write_text("def f(latents, params, config):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    status, stdout, _ = run_main(capsys, ["check", "mine_defaults:f"])
    assert status == 0 and seen == {"profile": "coolchic", "dtype": "float64", "max_examples": 100, "seed": None,
                                    "skip": [], "select": [], "keep_going": False}
    assert stdout == "check mine_defaults:f: PASS (100 drawn cases, profile coolchic, float64)\n"


def test_import_target_splits_at_the_first_colon_and_puts_the_folder_first(tmp_path, monkeypatch):
    (tmp_path / "mine_split.py").write_text("def f():\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", *[p for p in sys.path if p not in ("", str(tmp_path))]])
    with pytest.raises(ValueError, match=r"^module 'mine_split' has no function 'f:g'$"):
        import_target("mine_split:f:g")
    assert str(tmp_path) not in sys.path  # "" already stands for the current folder
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != ""])
    assert import_target("mine_split:f")() == 1 and sys.path[0] == str(tmp_path)


def command_line_help():
    """``--help`` of ``refups`` and of each command (set COLUMNS=100 first: argparse wraps to it)."""
    texts = {}
    for argv in ([], *([command] for command in COMMANDS)):
        out = __import__("io").StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            cli.main(argv + ["--help"])
        texts[" ".join(["refups", *argv])] = out.getvalue()
    return texts


def test_every_help_text_is_as_pinned(monkeypatch, capsys):
    # The help is the command line's documentation: a change to it should be deliberate.
    # `python tests/test_reliability.py` prints CLI_HELP for the current command line.
    monkeypatch.setenv("COLUMNS", "100")
    assert command_line_help() == CLI_HELP
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"refups {refups.__version__}\n"
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2 and "the following arguments are required: COMMAND" in capsys.readouterr().err


CLI_HELP = {
    'refups': """\
usage: refups [-h] [--version] COMMAND ...

Reference implementation of Cool-chic's latent Upsampling module.

positional arguments:
  COMMAND
    golden    Write the golden-reference suite (inputs, parameters, expected outputs).
    verify    Check a candidate implementation's outputs against the golden suite.
    check     Property-test your implementation against the reference on drawn cases.
    explain   Print every intermediate of the upsampling filter (S4), the pre-concatenation filter
              (S5) or a pyramid (S6).
    run       Run the reference Upsampling on your own parameters and latents.
    add-case  Turn your own latents and parameters into a golden case, in a suite folder of your
              own.

options:
  -h, --help  show this help message and exit
  --version   show program's version number and exit
""",
    'refups golden': """\
usage: refups golden [-h] --out OUT [--force]

Write the golden-reference suite (inputs, parameters, expected outputs).

options:
  -h, --help  show this help message and exit
  --out OUT   folder to create
  --force     replace a non-empty folder

example:
  refups golden --out golden            # write the suite to ./golden
  refups golden --out golden --force    # replace an existing suite
""",
    'refups verify': """\
usage: refups verify [-h] [--golden DIR] [--profile NAME] [--select TOKENS] [--skip TOKENS]
                     [--run COMMAND] [--call MODULE:FUNCTION] [--timeout SECONDS]
                     [--dtype {float32,float64}] [--tier {exact,pass,warn}] [--json REPORT]
                     [--list-profiles] [--list-flags]
                     [CANDIDATE]

Check a candidate implementation's outputs against the golden suite.

positional arguments:
  CANDIDATE

options:
  -h, --help            show this help message and exit
  --golden DIR          suite folder (default: the committed suite, else one generated in memory)
  --profile NAME        run the cases of this profile: full (default), coolchic, bitstream,
                        coolchic_4_0, coolchic_3_4 (see --list-profiles)
  --select TOKENS       run only cases matching a case id, flag or clause id
  --skip TOKENS         do not run cases matching a case id, flag or clause id
  --run COMMAND         shell command run on every case first, with {case} and {out}
  --call MODULE:FUNCTION
                        call a Python function on every case first, in one worker process (the
                        contract of `refups check`; with --dtype, the latents are cast to it)
  --timeout SECONDS     time limit of one case's --run command or --call (default: 60)
  --dtype {float32,float64}
                        require the candidate's files to have this dtype
  --tier {exact,pass,warn}
                        the lowest tier that passes (default: pass; see docs/tolerances.md)
  --json REPORT         also write the report as JSON
  --list-profiles       describe the profiles and exit
  --list-flags          describe the flags and exit

CANDIDATE holds one folder per case id with your implementation's output.npy
(and, optionally, transition_<idx>.upsampled.npy / .prefiltered.npy), float32
or float64, computed from the suite's latent_<i>.npy and params.json (or
case.txt). With --run, refups runs COMMAND on every selected case first:
{case} becomes the case folder, {out} the folder CANDIDATE/<case id> where
the command writes output.npy. A crash, a timeout or a missing output fails
that case only. With --call, refups calls the Python function
MODULE:FUNCTION(latents, params, config) on every selected case instead, in
one worker process that imports it once (much faster than a command per
case), and writes what it returns to CANDIDATE/<case id>/output.npy.

--select and --skip take case ids, flags or clause ids (S6 also matches
S6.1 ... S6.8), comma-separated or repeated; --list-profiles and --list-flags
describe them. Profiles coolchic_4_0 and coolchic_3_4 hold the cases of older
Cool-chic releases (spec S6.8); a failure that one of them explains is named.

exit status: 0 every case run passes, 1 some case fails, 2 unusable input.

example:
  refups verify mine --profile coolchic
  refups verify out --profile bitstream --run './decoder {case} {out}' --timeout 30
  refups verify mine --select phase_k2mod4,S6.4 --json report.json
  refups verify out --profile coolchic --call my_upsampling:upsample --dtype float32
  refups verify out --profile coolchic_4_0 --call my_port:upsample  # a Cool-chic 4.0 port
""",
    'refups check': """\
usage: refups check [-h] [--profile NAME] [--dtype {float32,float64}] [--max-examples N]
                    [--seed S] [--skip TOKENS] [--select TOKENS] [--keep-going]
                    MODULE:FUNCTION

Property-test your implementation against the reference on drawn cases.

positional arguments:
  MODULE:FUNCTION       your implementation, e.g. mine:upsample

options:
  -h, --help            show this help message and exit
  --profile NAME        draw inputs inside this profile: coolchic (default), bitstream, full,
                        coolchic_4_0, coolchic_3_4
  --dtype {float32,float64}
                        dtype of the latents given to your function (default: float64)
  --max-examples N      number of drawn cases (default: 100)
  --seed S              seed of the drawn cases (default: random)
  --skip TOKENS         leave out inputs showing a behaviour, by flag or clause id (S6.4, S6.5,
                        S6.7, empty_coarsest, batch_mixing)
  --select TOKENS       keep to inputs showing a behaviour (same names as --skip)
  --keep-going          go on past a failure, leaving out its behaviours, and report every
                        distinct one

MODULE:FUNCTION names your implementation under the candidate contract
candidate(latents, params, config) -> array (see refups.testing); MODULE is
imported from the current folder or PYTHONPATH. It is compared with the
reference on drawn cases inside the profile; a failure is shrunk to a small
case and printed with a ready-to-paste reproducer. The same --seed gives the
same run.

exit status: 0 pass, 1 a failing case (report and reproducer), 2 usage error.

example:
  refups check my_upsampling:upsample
  refups check my_upsampling:upsample --profile full --dtype float32 --max-examples 500 --seed 1
  refups check my_upsampling:upsample --skip S6.4 --keep-going
  refups check my_port:upsample --profile coolchic_3_4   # a port of Cool-chic 3.4
""",
    'refups explain': """\
usage: refups explain [-h] [--input VALUES] [--k K] [--half VALUES] [--prefilter] [--pyramid]
                      [--width COLUMNS]

Print every intermediate of the upsampling filter (S4), the pre-concatenation filter (S5) or a pyramid (S6).

options:
  -h, --help       show this help message and exit
  --input VALUES   comma-separated samples; ';' separates the rows of a 2-D input, '|' the levels
                   of a --pyramid (default: 1,2,4; with --prefilter 1,2;3,4)
  --k K            kernel size, with its initial half-kernel (default: 4; with --prefilter 3, with
                   --pyramid 8)
  --half VALUES    comma-separated half-kernel (k = 2 * its length; with --prefilter 2 * length -
                   1)
  --prefilter      walk through the pre-concatenation filter (S5) instead of the upsampling filter
  --pyramid        walk through each transition of a pyramid (S6): shapes, or every tensor with
                   --input
  --width COLUMNS  wrap the output at COLUMNS characters (default: the terminal's width; 0: never)

Without arguments: the worked example of SPEC S4, (1, 2, 4) with the k = 4
bilinear kernel, giving 1 1.25 1.75 2.5 3.5 4. --prefilter walks through the
pre-concatenation filter of S5 instead (default input 1,2;3,4, kernel the
initial impulse of size 3, or --half with k = 2 * len - 1), --pyramid through
the transitions of S6: shapes only, or every tensor when --input gives the
levels, finest first, separated by '|' (one channel each; upsampling kernel
from --k or --half, default the initial k = 8). Output is wrapped to the
terminal's width (--width); wide tables are cut into blocks of columns.

example:
  refups explain
  refups explain --input "1,2;3,4" --k 4      # a 2-D input: rows separated by ';'
  refups explain --input 0,0,1,0,0 --k 8      # impulse response of the bicubic init
  refups explain --half 0.1,-0.2,0.6          # your own half-kernel (k = 6)
  refups explain --prefilter --half 0.5,1     # S5 with the kernel (0.5, 1, 0.5)
  refups explain --pyramid
  refups explain --pyramid --k 4 --input '1,2,3,4;5,6,7,8;9,10,11,12|1,2;3,4|5'
""",
    'refups run': """\
usage: refups run [-h] --params PARAMS --latents LATENT [LATENT ...] --out OUT
                  [--ups-k-size UPS_K_SIZE] [--ups-preconcat-k-size UPS_PRECONCAT_K_SIZE]
                  [--dtype {float32,float64}] [--dense] [--empty-levels {stop,continue,error}]
                  [--prefix PREFIX] [--trace DIR]

Run the reference Upsampling on your own parameters and latents.

options:
  -h, --help            show this help message and exit
  --params PARAMS       .json, .npz, or .pt (needs torch) under Cool-chic's names; biases may be
                        left out
  --latents LATENT [LATENT ...]
                        .npy files, (B, C_i, H_i, W_i), finest level first, or one .npz of all
                        levels
  --out OUT             .npy file to write
  --ups-k-size UPS_K_SIZE
                        upsampling kernel size (default: inferred)
  --ups-preconcat-k-size UPS_PRECONCAT_K_SIZE
                        pre-concatenation kernel size (default: inferred)
  --dtype {float32,float64}
                        computation dtype (default: float64, the reference, whatever the latents'
                        dtype; float32 emulates a single-precision implementation)
  --dense               use the dense 2-D path (Cool-chic's training mode)
  --empty-levels {stop,continue,error}
                        a level without channels: stop (Cool-chic 4.1 and later, default),
                        continue (Cool-chic 4.0) or error (Cool-chic 3.4); spec S6.8
  --prefix PREFIX       use only the parameters whose names start with PREFIX, without it (e.g.
                        'upsampling.' in a whole model's state dict)
  --trace DIR           also write every intermediate to DIR (new or empty), laid out as a golden
                        case

The configuration is read from the parameter names and shapes (Cool-chic's
get_param() names, SPEC S8); give the kernel sizes explicitly when a kind has
no filter.

example:
  refups run --params params.json --latents y0.npy y1.npy y2.npy --out dense.npy
  refups run --params model.pt --prefix upsampling. --latents y*.npy --out dense.npy
""",
}


if __name__ == "__main__":
    os.environ["COLUMNS"] = "100"
    print("CLI_HELP = {")
    for key, text in command_line_help().items():
        assert '"""' not in text and "\\" not in text
        print(f'    {key!r}: """\\\n{text}""",')
    print("}")
