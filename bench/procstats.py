"""CPU time and memory of the servers' processes, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """Return the user plus system CPU seconds the processes have used so far.

    A process that exited meanwhile counts as zero.
    """
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesized command name: utime and stime are the 12th and 13th.
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def memory_kib(pid: int, key: str) -> int | None:
    """Return a process's VmHWM (peak resident set) or VmRSS in KiB, or None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def peak_rss_mib(pids: list[int]) -> float | None:
    """Return the largest VmHWM among the processes, in MiB."""
    peaks = [value for value in (memory_kib(pid, "VmHWM") for pid in pids) if value is not None]
    return max(peaks) / 1024 if peaks else None


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages as /proc/loadavg gives them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_description() -> dict[str, str]:
    """Describe the machine: CPU model, cores, memory, kernel, Python."""
    import platform

    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kib_total = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib_total = int(line.split()[1])
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "memory": f"{memory_kib_total / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
