"""Regenerate tests/engine/data/spreadsheet_reference.csv with real spreadsheet engines.

Builds a sheet of SLN, SYD, DDB, DB and VDB formulas (hand-picked edge cases plus seeded
random ones, all inside the domain that ``service.engine.depreciation`` accepts), has Gnumeric
(``ssconvert --recalc``) and, when installed, LibreOffice Calc (headless) evaluate it, and
writes one row per formula with each engine's answer. The tests read the CSV, so they do not
need a spreadsheet engine.

    apt-get install -y gnumeric libreoffice-calc-nogui   # Debian packages
    python scripts/gen_spreadsheet_reference.py [--out PATH]

Stdlib only. Gnumeric prints 20 significant digits, LibreOffice 15.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

OUT = (
    Path(__file__).resolve().parents[1] / "tests" / "engine" / "data" / "spreadsheet_reference.csv"
)
FIELDS = (
    "function",
    "cost",
    "salvage",
    "life",
    "period",
    "end_period",
    "factor",
    "month",
    "no_switch",
    "formula",
    "gnumeric",
    "libreoffice",
)


@dataclass(frozen=True)
class Case:
    function: str
    cost: float
    salvage: float
    life: float
    period: float | None = None
    end_period: float | None = None
    factor: float | None = None
    month: int | None = None
    no_switch: bool | None = None

    def formula(self) -> str:
        args: list[str] = [_num(self.cost), _num(self.salvage), _num(self.life)]
        if self.function != "SLN":
            args.append(_num(self.period))
        if self.function == "VDB":
            args.append(_num(self.end_period))
        if self.factor is not None:
            args.append(_num(self.factor))
        if self.month is not None:
            args.append(str(self.month))
        if self.no_switch is not None:
            args.append("TRUE" if self.no_switch else "FALSE")
        return f"={self.function}({','.join(args)})"

    def row(self) -> dict[str, str]:
        return {
            "function": self.function,
            "cost": _num(self.cost),
            "salvage": _num(self.salvage),
            "life": _num(self.life),
            "period": _num(self.period),
            "end_period": _num(self.end_period),
            "factor": _num(self.factor),
            "month": "" if self.month is None else str(self.month),
            "no_switch": "" if self.no_switch is None else str(self.no_switch).lower(),
            "formula": self.formula(),
        }


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def cases() -> list[Case]:
    rng = random.Random(20240229)
    out: list[Case] = []

    # Microsoft's documentation examples, so the table also pins them.
    out += [
        Case("SLN", 30000, 7500, 10),
        Case("SYD", 30000, 7500, 10, 1),
        Case("SYD", 30000, 7500, 10, 10),
        Case("DDB", 2400, 300, 3650, 1),
        Case("DDB", 2400, 300, 120, 1, factor=2),
        Case("DDB", 2400, 300, 10, 1, factor=2),
        Case("DDB", 2400, 300, 10, 1, factor=1.5),
        Case("DDB", 2400, 300, 10, 10),
        *(Case("DB", 1000000, 100000, 6, p, month=7) for p in range(1, 8)),
        Case("VDB", 2400, 300, 3650, 0, 1),
        Case("VDB", 2400, 300, 120, 0, 1),
        Case("VDB", 2400, 300, 10, 0, 1),
        Case("VDB", 2400, 300, 120, 6, 18),
        Case("VDB", 2400, 300, 120, 6, 18, factor=1.5),
        Case("VDB", 2400, 300, 10, 0, 0.875, factor=1.5),
    ]

    # Edge cases: zero salvage, salvage == cost, DB rates that round on a tie (0.0625 -> 0.063),
    # factor above the life (rate capped at 100% in period 1), one-period lives.
    out += [
        Case("SLN", 0, 0, 1),
        Case("SLN", 1000, 1000, 7),
        Case("SYD", 1000, 0, 1, 1),
        Case("SYD", 1000, 1000, 5, 3),
        Case("DDB", 1000, 0, 1, 1),
        Case("DDB", 100, 10, 2, 1, factor=3),
        Case("DDB", 1000, 1000, 5, 2),
        Case("DDB", 1000, 0, 5, 5),
        Case("DB", 16, 15, 1, 1),
        Case("DB", 16000, 15000, 1, 1, month=6),
        Case("DB", 16000, 15000, 1, 2, month=6),
        Case("DB", 1000, 0, 5, 1, month=7),
        Case("DB", 1000, 0, 5, 3, month=7),
        Case("DB", 1000, 1000, 4, 2),
        Case("DB", 1000, 1, 1, 1, month=1),
        Case("DB", 1000, 1, 1, 2, month=1),
        Case("VDB", 1000, 0, 5, 0, 5),
        Case("VDB", 1000, 0, 5, 0, 5, no_switch=True, factor=2),
        Case("VDB", 1000, 100, 5, 2, 2),
        Case("VDB", 1000, 100, 5, 2.5, 2.5),
        Case("VDB", 1000, 100, 5, 0, 5, factor=1),
        Case("VDB", 1000, 100, 5, 4.5, 5),
        Case("VDB", 1000, 1000, 5, 1, 3),
        Case("VDB", 1000, 100, 1, 0, 1, factor=2),
        Case("VDB", 1000, 100, 1, 0.25, 0.75, factor=2),
    ]

    def money() -> float:
        return rng.choice(
            [round(rng.uniform(100, 5_000_000), 2), float(rng.randint(1, 900) * 1000)]
        )

    def salvage_of(cost: float) -> float:
        return rng.choice([0.0, round(cost * rng.uniform(0.01, 0.6), 2), round(cost * 0.1, 2)])

    for _ in range(40):
        cost = money()
        out.append(Case("SLN", cost, salvage_of(cost), rng.choice([1, 3, 5, 7, 10, 2.5, 60])))
    for _ in range(60):
        cost = money()
        life = rng.choice([1, 3, 5, 7, 10, 15, 36, 60, 7.5])
        period = rng.choice([1.0, float(rng.randint(1, int(life))), round(rng.uniform(1, life), 3)])
        out.append(Case("SYD", cost, salvage_of(cost), life, period))
    for _ in range(100):
        cost = money()
        life = rng.choice([2, 3, 4, 5, 8, 10, 20, 60, 120, 6.5])
        period = rng.choice(
            [
                1.0,
                float(rng.randint(1, int(life))),
                float(int(life)),
                round(rng.uniform(1, life), 3),
            ]
        )
        factor = rng.choice([None, 2, 1.5, 1, 0.5, 3, 2.75])
        out.append(Case("DDB", cost, salvage_of(cost), life, period, factor=factor))
    for _ in range(100):
        cost = money()
        salvage = rng.choice([round(cost * rng.uniform(0.01, 0.6), 2), round(cost * 0.1, 2), 0.0])
        life = rng.randint(1, 20)
        month = rng.choice([None, 12, *range(1, 12)])
        last = life + 1 if month is not None and month < 12 else life
        period = rng.choice([1, last, rng.randint(1, last)])
        out.append(Case("DB", cost, salvage, life, period, month=month))
    for _ in range(220):
        cost = money()
        life = rng.choice([3, 5, 6, 7, 10, 20, 36, 60, 120, 365, 8.5])
        kind = rng.random()
        if kind < 0.35:
            start = float(rng.randint(0, int(life)))
            end = float(rng.randint(int(start), int(life)))
        else:
            start = round(rng.uniform(0, life), rng.choice([1, 2, 3]))
            end = round(rng.uniform(start, life), rng.choice([1, 2, 3]))
            end = min(max(end, start), life)
        factor = rng.choice([None, 2, 1.5, 1, 2.5, 0.75])
        no_switch = rng.choice([None, False, True]) if factor is not None else None
        out.append(
            Case(
                "VDB", cost, salvage_of(cost), life, start, end, factor=factor, no_switch=no_switch
            )
        )
    return out


def run_gnumeric(formulas: list[str], workdir: Path) -> list[str]:
    cells = "".join(
        f'<gnm:Cell Row="{row}" Col="0">{escape(formula)}</gnm:Cell>'
        for row, formula in enumerate(formulas)
    )
    book = workdir / "reference.gnumeric"
    book.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gnm:Workbook xmlns:gnm="http://www.gnumeric.org/v10.dtd">'
        "<gnm:SheetNameIndex><gnm:SheetName>cases</gnm:SheetName></gnm:SheetNameIndex>"
        "<gnm:Sheets><gnm:Sheet><gnm:Name>cases</gnm:Name>"
        f"<gnm:MaxCol>0</gnm:MaxCol><gnm:MaxRow>{len(formulas) - 1}</gnm:MaxRow>"
        f"<gnm:Cells>{cells}</gnm:Cells></gnm:Sheet></gnm:Sheets></gnm:Workbook>",
        encoding="utf-8",
    )
    result = workdir / "gnumeric.csv"
    subprocess.run(
        ["ssconvert", "--recalc", str(book), str(result)], check=True, capture_output=True
    )
    return _column(result, len(formulas))


def run_libreoffice(formulas: list[str], workdir: Path) -> list[str]:
    sheet = workdir / "libreoffice.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL).writerows([f] for f in formulas)
    outdir = workdir / "lo-out"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{workdir / 'lo-profile'}",
            "--headless",
            # CSV import: comma, double quote, UTF-8, start row 1, evaluate formulas (last token).
            "--infilter=CSV:44,34,76,1,,0,false,true,false,false,false,-1,true",
            # CSV export with full precision rather than "as shown".
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false",
            "--outdir",
            str(outdir),
            str(sheet),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return _column(outdir / sheet.name, len(formulas))


def _column(path: Path, expected: int) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        values = [row[0] if row else "" for row in csv.reader(handle)]
    if len(values) != expected:
        raise SystemExit(f"{path}: expected {expected} results, got {len(values)}")
    return [value if _is_number(value) else "" for value in values]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if shutil.which("ssconvert") is None:
        raise SystemExit("ssconvert not found: apt-get install -y gnumeric")
    all_cases = cases()
    formulas = [case.formula() for case in all_cases]
    with tempfile.TemporaryDirectory() as tmp:
        gnumeric = run_gnumeric(formulas, Path(tmp))
        if shutil.which("soffice"):
            libreoffice = run_libreoffice(formulas, Path(tmp))
        else:
            print("soffice not found: LibreOffice column left empty", file=sys.stderr)
            libreoffice = [""] * len(formulas)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for case, gnm, lo in zip(all_cases, gnumeric, libreoffice, strict=True):
            writer.writerow({**case.row(), "gnumeric": gnm, "libreoffice": lo})
    missing = sum(1 for value in gnumeric if not value)
    print(f"wrote {len(all_cases)} cases to {args.out} ({missing} without a Gnumeric number)")


if __name__ == "__main__":
    main()
