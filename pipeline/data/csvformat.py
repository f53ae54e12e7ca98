"""How a user's CSV is written: its text encoding and field delimiter, detected or from params.

`detect_format(path, params)` returns the `CsvFormat` to read the file with: `prepare.csv`
values win; a null one is detected from the file. Encoding: UTF-8 (a byte-order mark is
stripped), else Windows-1252, else Latin-1 (which decodes any bytes); the whole file is decoded
once, in 1 MB blocks, so a bad byte far down the file is found before pandas reads it.
Delimiter: `csv.Sniffer` on the first lines, among `, ; tab |`; a file it cannot decide on
(one column) is read with commas. Both choices are logged.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import CsvParams
from pipeline.errors import UserError
from pipeline.log import logger

FALLBACK_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")  # latin-1 decodes every byte
DELIMITERS = ",;\t|"
SNIFF_LINES = 50
SNIFF_CHARS = 65536
_BLOCK = 1 << 20


@dataclass(frozen=True)
class CsvFormat:
    """What `pandas.read_csv` needs to read the file."""

    encoding: str
    sep: str
    decimal: str = "."

    def read_csv_kwargs(self) -> dict[str, str]:
        return {"encoding": self.encoding, "sep": self.sep, "decimal": self.decimal}


def detect_format(path: Path, params: CsvParams | None = None) -> CsvFormat:
    """The encoding and delimiter of the CSV at `path` (params first, else detected)."""
    params = params or CsvParams()
    if params.encoding is not None:
        encoding = _utf8_sig(params.encoding)
        if not _decodes(path, encoding):
            raise UserError(f"{path} is not valid {params.encoding} text "
                            "(prepare.csv.encoding; null detects the encoding)")
        how = f"encoding {params.encoding}"
    else:
        encoding = next(e for e in FALLBACK_ENCODINGS if _decodes(path, e))
        if encoding != "utf-8-sig":
            logger.warning("%s is not UTF-8: reading it as %s (set prepare.csv.encoding to "
                           "choose)", path, encoding)
        how = f"encoding {encoding.replace('utf-8-sig', 'utf-8')}" + (
            " (byte-order mark stripped)" if _has_bom(path) else "")
    sep = params.sep if params.sep is not None else _sniff_delimiter(path, encoding)
    logger.info("reading %s: %s, delimiter %r%s", path, how, sep,
                "" if params.sep is not None else " (sniffed; prepare.csv.sep sets it)")
    return CsvFormat(encoding, sep, params.decimal)


def read_header(path: Path, fmt: CsvFormat) -> list[str]:
    """The raw header fields, as written (pandas renames duplicates, this does not)."""
    with path.open(newline="", encoding=fmt.encoding, errors="replace") as fh:
        return next(csv.reader(fh, delimiter=fmt.sep), [])


def _utf8_sig(encoding: str) -> str:
    """utf-8 given by the user still strips a byte-order mark."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def _has_bom(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(3) == codecs.BOM_UTF8


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes in `encoding` (streamed, bounded memory)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            while block := fh.read(_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sniff_delimiter(path: Path, encoding: str) -> str:
    """The delimiter csv.Sniffer finds in the first lines; ',' when it cannot tell."""
    lines = []
    with path.open(newline="", encoding=encoding) as fh:
        for _, line in zip(range(SNIFF_LINES), fh):
            lines.append(line)
    sample = "".join(lines)[:SNIFF_CHARS]
    if not sample.strip():
        return ","
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
