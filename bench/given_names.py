"""Build corpus/attribution/given_names.json: the given names whose bearers are nearly all of one gender.

    pip install nomquamgender==0.1.4 && python bench/given_names.py [--out PATH]

nomquamgender (MIT) counts each name's bearers over 30-odd name registers with the share that is
female; a name is kept when at least MIN_BEARERS people bear it and MIN_SHARE or more of them are of
one gender. The attribution reads the result to give a character without gendered pronouns a gender.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys
from pathlib import Path

from corpus.attribution.genders import GIVEN_NAMES_FILE

MIN_BEARERS = 1000
MIN_SHARE = 0.95


def given_names() -> dict[str, list[str]]:
    """{"female": [...], "male": [...]}: sorted lower-cased names from nomquamgender's data
    (name -> [registers, bearers, share female, ...])."""
    data = json.loads(importlib.resources.files("nomquamgender").joinpath("name_data.json").read_text("utf-8"))
    table: dict[str, list[str]] = {"female": [], "male": []}
    for name, (_, bearers, share, *_) in sorted(data.items()):
        if bearers >= MIN_BEARERS and max(share, 1 - share) >= MIN_SHARE and name.isalpha():
            table["female" if share >= MIN_SHARE else "male"].append(name)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=GIVEN_NAMES_FILE)
    args = parser.parse_args(argv)
    try:
        table = given_names()
    except ModuleNotFoundError:
        print("error: this script needs nomquamgender: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, separators=(",", ":")) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(f"{len(table['female'])} female and {len(table['male'])} male given names written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
