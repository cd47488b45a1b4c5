"""Write the synthetic XML 130 episode files of this folder and their expected import reports.

    .venv/bin/python samples/xml130/generate.py

Made-up people and hospitals only. The files are built by ``tests/core/interop/xml130_samples.py`` (which also
holds the expected reports, written by hand from shared/domain/exclusion.md); a test checks this folder matches it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.core.interop.xml130_samples import write_samples  # noqa: E402

if __name__ == "__main__":
    for path in write_samples():
        print(path.relative_to(ROOT))
