"""A snapshot of the machine and software a run measured, so numbers can be compared across runs."""

from __future__ import annotations

import os
import platform
import ssl
import sys
from importlib import metadata

_PACKAGES = ("klyuch", "trio", "hypercorn", "quart", "quart-trio", "h11", "pydantic", "numpy", "psutil")


def snapshot() -> dict[str, object]:
    """CPU, OS, Python and package versions, plus the load average at the moment of the call."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "openssl": ssl.OPENSSL_VERSION,
        "versions": {name: _version(name) for name in _PACKAGES},
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return platform.processor() or None
