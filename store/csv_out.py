"""Writing CSV in chunks of text: how stored values are printed, and the `csv` module doing
the quoting (commas, quotes and line breaks in values come out escaped, RFC 4180)."""

from __future__ import annotations

import csv
import datetime as dt
import io

CHUNK_CHARS = 64 * 1024


def iso_utc(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with `Z`, with milliseconds only when there are any."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    moment = moment.astimezone(dt.timezone.utc)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def cell(value: object) -> str:
    """A stored value as a CSV cell: dates ISO 8601 UTC with Z, booleans true/false,
    numbers as written, nothing when there is no value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    return str(value)


class CsvChunks:
    """Rows in, text chunks of about CHUNK_CHARS out (`add` returns a chunk when one is full)."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def add(self, row: list[str]) -> str | None:
        self._writer.writerow(row)
        if self._buffer.tell() >= CHUNK_CHARS:
            return self.flush()
        return None

    def flush(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text
