"""`mi-starter` itself: bad input and filesystem failures are one `error:` line and an exit status,
never a traceback, and never after a model has loaded (issue 11). In-process, with `load_model`
replaced."""

from __future__ import annotations

import errno

import pytest

import starter.commands.run
import starter.models
import starter.neuronpedia
from starter import questions
from starter.cli import main
from starter.errors import StarterError

SLUG = "determinism" if "determinism" in questions.available() else sorted(questions.available())[0]


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if anything loads a model: every error here must come before that."""
    def load_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the bad input was refused")

    monkeypatch.setattr(starter.models, "load_model", load_model)
    monkeypatch.setenv("NEURONPEDIA_OFFLINE", "1")


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"one `error:` line, got:\n{err}"
    return lines[0]


@pytest.mark.parametrize("seed", ["-1", "12345678901234567890123"])
def test_a_bad_seed_is_one_line_and_exit_2(tmp_path, capsys, no_model, seed):
    assert main(["run", SLUG, "--seed", seed, "--out", str(tmp_path / "run")]) == 2
    line = _error_line(capsys)
    assert f"seed {seed} is out of range" in line and "0 <= seed < 2**63" in line


def test_an_out_with_someone_elses_files_is_one_line_and_exit_2(tmp_path, capsys, no_model):
    (tmp_path / "summary.md").write_text("mine\n")
    assert main(["run", SLUG, "--out", str(tmp_path)]) == 2
    assert "but no manifest.json of an mi-starter run" in _error_line(capsys)
    assert [p.name for p in tmp_path.iterdir()] == ["summary.md"]
    assert (tmp_path / "summary.md").read_text() == "mine\n"


@pytest.mark.parametrize("below", [False, True])
def test_an_out_at_or_below_a_file_is_one_line_naming_it(tmp_path, capsys, no_model, below):
    afile = tmp_path / "results.txt"
    afile.write_text("mine")
    assert main(["run", SLUG, "--out", str(afile / "run" if below else afile)]) == 2
    assert str(afile) in _error_line(capsys)


def test_a_truncated_manifest_is_one_line_naming_it(tmp_path, capsys, no_model):
    (tmp_path / "manifest.json").write_text('{"config": {"starter": "x", "pres')
    assert main(["run", SLUG, "--out", str(tmp_path)]) == 1
    assert f"{tmp_path / 'manifest.json'} is not valid JSON" in _error_line(capsys)


def test_cuda_n_is_not_refused_as_an_unknown_device(tmp_path, capsys, monkeypatch):
    def load_model(*args, **kwargs):  # on a machine with two GPUs the run gets this far
        raise StarterError("stopped at load_model")

    monkeypatch.setattr(starter.models, "load_model", load_model)
    argv = ["run", SLUG, "--device", "cuda:1", "--offline", "--out", str(tmp_path / "run")]
    assert main(argv) in (1, 2)
    assert "unknown device" not in _error_line(capsys), "cuda:N is a device the resolver offers"


def test_an_unnamed_filesystem_error_is_one_line(monkeypatch, capsys):
    def full_disk(args):
        raise OSError(errno.ENOSPC, "No space left on device", "runs/x/findings.json")

    monkeypatch.setattr(starter.commands.run, "main", full_disk)
    assert main(["run", SLUG]) == 1
    assert _error_line(capsys) == ("error: runs/x/findings.json: No space left on device; "
                                   "check that path (permissions, free space) and run again")


def test_doctor_reports_a_neuronpedia_client_error_and_goes_on(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise StarterError("NEURONPEDIA_API_KEY contains whitespace; set it again without it")

    monkeypatch.setattr(starter.neuronpedia, "NeuronpediaClient", refuse)
    main(["doctor"])
    out = capsys.readouterr().out
    assert "NEURONPEDIA_API_KEY contains whitespace" in out
    assert "hub cache" in out, "the sections after neuronpedia must still be reported"


# --- `mi-starter list`: starters grouped by research area -----------------------------------------


def _list_output(capsys) -> list[str]:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out
    return out.splitlines()


def test_list_groups_the_starters_under_their_area_in_the_guides_order(capsys):
    lines = _list_output(capsys)
    headings = [line for line in lines if line and not line.startswith(" ")]
    assert headings == [area.title for area in questions.areas()], "one heading per area, in order"
    assert len(questions.areas()) >= 6, "the six areas of the MATS guide"
    for q in questions.identities():
        row = next(n for n, line in enumerate(lines) if line.split()[1:2] == [q.slug])
        heading = max(n for n, line in enumerate(lines[:row]) if line and not line.startswith(" "))
        assert lines[heading] == q.area_title, f"{q.slug} is listed outside {q.area_title!r}"
        assert q.title in lines[row]


def test_list_shows_letters_only_for_thinking_models_and_the_run_command(capsys):
    lines = _list_output(capsys)
    present = questions.available()
    for q in questions.identities():
        row = next(n for n, line in enumerate(lines) if line.split()[1:2] == [q.slug])
        assert lines[row].split()[0] == (q.letter or "-")
        if q.letter is not None:  # contributed thinking-models questions carry none
            assert q.area == questions.LETTERED_AREA
        if q.slug in present:
            assert lines[row + 1].strip() == f"mi-starter run {q.slug} --preset smoke"
        else:
            assert lines[row].endswith("(no starter module in this install)")


def test_list_says_when_an_area_has_no_questions(capsys, monkeypatch):
    """An area of questions.yaml without a question yet is still listed, saying so."""
    extra = questions.Area(id="new-area", title="A new area")
    known = questions.areas()
    monkeypatch.setattr(questions, "areas", lambda: (*known, extra))
    lines = _list_output(capsys)
    at = lines.index("A new area")
    assert lines[at + 1] == "  (no questions yet)"
