"""Print the tested version set: every package installed in this environment, pinned.

    python scripts/freeze_constraints.py > constraints.txt      (what `make constraints` runs)

pip reads the file with ``-c``: it fixes the version of whatever it installs, and installs
nothing by itself. torch is written without its local label (``2.13.0``, not ``2.13.0+cpu``)
so that the same line admits the CPU, CUDA and macOS builds of that release.
"""

import datetime
import platform
import subprocess
import sys

frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                        check=True, capture_output=True, text=True).stdout.splitlines()
print("# The tested version set: `make test` and `make unit` install exactly these (pip -c), as do")
print("# .ci/run, binder/postBuild and .github/workflows/ci.yml. pyproject.toml keeps ranges.")
print(f"# Written by `make constraints` on {datetime.date.today()} (Python "
      f"{platform.python_version()}, {platform.system()} {platform.machine()}).")
for line in sorted(frozen, key=str.lower):
    if "==" not in line or line.startswith("dlcore"):
        continue
    name, version = line.split("==", 1)
    print(f"{name}=={version.split('+')[0] if name.lower() == 'torch' else version}")
