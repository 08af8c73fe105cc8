"""Profile one arm of a suite scenario with pyinstrument: where its time goes.

    python -m bench.profile pg_bronze_1m govlake          # text tree on stdout
    python -m bench.profile sftp_gbk_30mb govlake -o prof.html

The scenario's data is prepared as for the suite, then the arm runs once in a child process
under pyinstrument (the arm's own work, not the data generation).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.__main__ import SUITE


def main() -> None:
    """Prepare the scenario, run the arm under the profiler."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=[s.name for s in SUITE])
    parser.add_argument("arm")
    parser.add_argument("-o", "--outfile", help="write here (.html, .txt, .json) instead")
    args = parser.parse_args()
    scenario = next(s for s in SUITE if s.name == args.scenario)
    module = importlib.import_module(scenario.module)
    if args.arm not in module.ARMS:
        parser.error(f"{scenario.module} has no arm {args.arm!r}; arms: {module.ARMS}")
    output = ["-o", args.outfile] if args.outfile else []
    with module.prepared(scenario.params) as params, tempfile.TemporaryDirectory() as work:
        command = [sys.executable, "-m", "pyinstrument", *output, "-m", scenario.module,
                   args.arm, json.dumps(params), str(Path(work))]  # fmt: skip
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
