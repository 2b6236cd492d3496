"""StatusLine: text written while a status line is shown lands above it, and it is redrawn."""

from __future__ import annotations

import io

from daemon.core.logs import StatusLine, status_line

CLEAR = "\r\033[K"


def test_a_line_written_in_two_parts_prints_above_the_status() -> None:
    """print() writes the text, then the newline: cleared once, redrawn after the newline."""
    out = io.StringIO()
    line = StatusLine(out)
    line.show("orgs 1/5")

    print("event one", file=line)

    assert out.getvalue() == f"{CLEAR}orgs 1/5{CLEAR}event one\norgs 1/5"


def test_without_a_status_text_passes_through() -> None:
    """No status shown: nothing is added to what is written."""
    out = io.StringIO()
    line = StatusLine(out)

    print("event", file=line)
    line.show("")
    print("again", file=line)

    assert out.getvalue() == "event\nagain\n"


def test_removing_the_status_clears_it_and_stops_redrawing() -> None:
    """show("") erases the line; later writes do not bring it back."""
    out = io.StringIO()
    line = StatusLine(out)
    line.show("orgs 0/1")
    line.show("")

    print("done", file=line)

    assert out.getvalue() == f"{CLEAR}orgs 0/1{CLEAR}done\n"


def test_status_line_of_another_stream_is_a_new_one() -> None:
    """status_line gives the logging's own StatusLine only for the stream logs go to."""
    out = io.StringIO()
    assert status_line(out).stream is out
