"""llama.cpp's own tools over exactly the CPU plug-in that Resident chose.

The tools (llama-bench, llama-batched-bench, llama-quantize) come from the
same build as Resident's libraries (scripts/bootstrap.sh tools). Left alone,
they pick a CPU plug-in by cpuid alone (ggml's scoring): on a machine whose OS
does not enable what its CPU advertises, that one can die of SIGILL, and
elsewhere it may differ from the one Resident runs. A view folder holds copies
of the tools, links to the shared libraries, and a link to the one plug-in
Resident chose; ggml looks for plug-ins beside the executable, so the tools
load that one and the comparison runs the same kernels on both sides.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

PLUGIN_PREFIX = "libggml-cpu-"


def system_info(resident: Path) -> dict:
    """`resident inspect --system --json`: the CPU variant chosen and why."""
    r = subprocess.run([str(resident), "inspect", "--system", "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"resident inspect --system failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def tool_view(llama_bin: Path, variant: str) -> Path:
    """A folder of llama.cpp's tools that can load only `variant`'s plug-in."""
    plugin = llama_bin / f"{PLUGIN_PREFIX}{variant}.so"
    if not plugin.exists():
        raise SystemExit(f"no {plugin.name} in {llama_bin}: run scripts/bootstrap.sh tools")
    view = llama_bin.parent / f"view-{variant}"
    view.mkdir(exist_ok=True)
    for old in view.iterdir():
        old.unlink()
    for f in llama_bin.iterdir():
        if f.name.startswith("llama-") and f.is_file() and os.access(f, os.X_OK):
            # A copy, not a link: ggml finds plug-ins beside the executable's
            # real path (/proc/self/exe), and a hard link may cross devices.
            try:
                os.link(f, view / f.name)
            except OSError:
                shutil.copy2(f, view / f.name)
        elif f.name.startswith("lib") and ".so" in f.name and not f.name.startswith(PLUGIN_PREFIX):
            (view / f.name).symlink_to(f)
    (view / plugin.name).symlink_to(plugin)
    return view
