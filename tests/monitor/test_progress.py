"""Progress on long work: drawn on a terminal, nothing at all in a log, a pipe or under cron."""
from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from monitor import cli
from monitor.core import progress
from monitor.logs import REDACTOR
from tests.monitor.test_run_command import write_config


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, force_interactive=True, width=120)


def not_a_terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=120)


@pytest.fixture
def screen(monkeypatch):
    """stderr as an interactive terminal: what a person running the command sees."""
    console = terminal()
    monkeypatch.setattr(progress, "make_console", lambda: console)
    return console


def test_a_bar_is_drawn_on_a_terminal_with_its_figures():
    console = terminal()
    with progress.shown(console) as drawn:
        for _ in progress.track(range(3), "counting things"):
            pass
    out = console.file.getvalue()
    assert drawn and "counting things" in out and "3/3" in out


def test_nothing_at_all_is_written_when_the_output_is_not_a_terminal():
    console = not_a_terminal()
    with progress.shown(console) as drawn:
        for _ in progress.track(range(3), "counting things"):
            pass
        with progress.task("fetching") as advance:
            advance(5)
    assert not drawn and console.file.getvalue() == ""


def test_without_a_display_tracking_is_the_plain_iterable():
    assert not progress.active()
    assert list(progress.track(iter([1, 2, 3]), "anything")) == [1, 2, 3]
    with progress.task("fetching") as advance:
        advance(2)  # nothing drawn, nothing raised


def test_the_default_console_is_never_a_terminal_when_stderr_is_a_pipe(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # set in some cron and CI environments
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not progress.make_console().is_interactive


def test_log_lines_written_meanwhile_go_above_the_bars_still_redacted():
    console = terminal()
    handler = logging.StreamHandler(console.file)
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with progress.shown(console), progress.task("fetching") as advance:
            logging.getLogger("nurserywatch.test").warning("mail to jo@acorns.example refused")
            advance()
            assert handler.stream is not console.file  # through the display
        assert handler.stream is console.file  # and back afterwards
    finally:
        root.removeHandler(handler)
    out = console.file.getvalue()
    assert "mail to [email] refused" in out and "jo@acorns.example" not in out


def test_a_first_run_once_at_a_terminal_shows_fetching_and_classifying(tmp_path, screen, capsys):
    assert cli.main(["run", "--once", "--config", write_config(tmp_path, f"sqlite:///{tmp_path}/nw.db")]) == 0
    out = screen.file.getvalue()
    assert "demo account 1: fetching" in out and "classifying" in out


def test_run_once_under_cron_writes_no_progress(tmp_path, capsys):
    assert cli.main(["run", "--once", "--config", write_config(tmp_path, f"sqlite:///{tmp_path}/nw.db")]) == 0
    captured = capsys.readouterr()
    assert "cycle done" in captured.out
    for stream in (captured.out, captured.err):
        assert "fetching" not in stream and "classifying" not in stream and "\x1b[" not in stream


def test_train_shows_its_steps_at_a_terminal_and_nothing_in_a_log(tmp_path, screen, monkeypatch, capsys):
    import classifiers.train as train_module
    from classifiers.corpus import load_split

    few = [e for e in load_split("train")][:40]
    monkeypatch.setattr(train_module, "load_split", lambda split: few)
    assert cli.main(["train", "--output", str(tmp_path / "model")]) == 0
    out = screen.file.getvalue()
    assert "rules over the examples" in out and "out-of-fold models" in out and "training: epochs" in out
    assert "trained on 40 train comments" in capsys.readouterr().out

    monkeypatch.setattr(progress, "make_console", not_a_terminal)
    assert cli.main(["train", "--output", str(tmp_path / "model2")]) == 0
    assert "epochs" not in "".join(capsys.readouterr())


def test_evaluate_shows_its_scoring_at_a_terminal_and_nothing_in_a_log(screen, monkeypatch, capsys):
    import classifiers.corpus as corpus

    real = corpus.load_split
    monkeypatch.setattr(corpus, "load_split", lambda split, settings=None: real(split, settings=settings)[:150])
    assert cli.main(["evaluate", "--split", "dev"]) == 0
    assert "scoring dev, setting" in screen.file.getvalue()
    assert "macro F1" in capsys.readouterr().out

    monkeypatch.setattr(progress, "make_console", not_a_terminal)
    assert cli.main(["evaluate", "--split", "dev"]) == 0
    captured = capsys.readouterr()
    assert "scoring" not in captured.out + captured.err and "\x1b[" not in captured.err
