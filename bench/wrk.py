"""``wrk`` as the load generator: found on PATH or installed from the Debian package, run bounded in time.

Every script ends with the same ``done`` function, which prints one JSON line (requests, duration, errors,
latency percentiles in microseconds): parsing wrk's human summary would break with its units.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPORT_LUA = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, '
    .. '"write_errors": %d, "timeouts": %d, "non_2xx": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


THREADS = 2  # wrk threads: one per core; the scripts that stripe work across threads need the number


def ensure_wrk(say: Any = print) -> str:
    """The wrk binary; installed with apt-get when missing (Debian/Ubuntu, as root or through sudo)."""
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is not on PATH: installing the Debian package (apt-get install -y wrk)")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        subprocess.run(prefix + command, check=True, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed; install it (apt-get install wrk) and run again")
    return found


@dataclass(frozen=True, slots=True)
class WrkRun:
    requests: int
    seconds: float
    errors: int  # socket errors and timeouts
    non_2xx: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok_per_second(self) -> float:
        return (self.requests - self.non_2xx) / self.seconds if self.seconds else 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "req_per_s": round(self.per_second, 1),
            "ok_per_s": round(self.ok_per_second, 1),
            "non_2xx": self.non_2xx,
            "socket_errors": self.errors,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
        }


def parse_report(output: str) -> WrkRun:
    line = next((ln for ln in output.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no report:\n{output[-2000:]}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"]

    def ms(key: str) -> float:
        return round(float(data[key]) / 1000, 2)

    return WrkRun(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        non_2xx=data["non_2xx"],
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        max_ms=ms("max_us"),
    )


def run_wrk(
    wrk: str,
    url: str,
    script: str,
    *,
    connections: int,
    seconds: int,
    threads: int = THREADS,
    env: dict[str, str] | None = None,
    workdir: Path,
) -> WrkRun:
    """Run ``script`` (Lua source; the JSON reporter is appended) against ``url`` for ``seconds``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "script.lua"
    path.write_text(script + REPORT_LUA)
    command = [wrk, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    completed = subprocess.run(  # noqa: S603 - our own binary and arguments
        [*command, "-s", str(path), url],
        capture_output=True,
        text=True,
        env=os.environ | (env or {}),
        timeout=seconds + 60,
        check=False,
    )
    if completed.returncode != 0:
        print(completed.stderr, file=sys.stderr)
    return parse_report(completed.stdout)


def rotating_get_script(tokens_file: Path, path_template: str) -> str:
    """GET ``path_template`` (``{citizen}`` replaced) as each of the citizens in ``tokens_file``, in turn."""
    return rotating_script(tokens_file, path_template)


def rotating_script(tokens_file: Path, path_template: str, *, method: str = "GET", json_body: str | None = None) -> str:
    """``method`` ``path_template`` (``{citizen}`` replaced) as each of the citizens in ``tokens_file``, in turn,
    with ``json_body`` (a JSON text without single quotes) when given.

    The file has one ``citizen_id token`` pair a line. Each wrk thread starts at a different place in it.
    """
    body = f"'{json_body}'" if json_body is not None else "nil"
    content_type = '["Content-Type"] = "application/json", ' if json_body is not None else ""
    return f"""
local threads = 0
function setup(thread)
  -- Each thread starts at a different place in the file (wrk seeds no random numbers per thread).
  threads = threads + 1
  thread:set("offset", threads)
end
local pairs_ = {{}}
local counter = 0
function init(args)
  for line in io.lines("{tokens_file}") do
    local citizen, token = line:match("^(%S+) (%S+)$")
    if citizen then table.insert(pairs_, {{citizen, token}}) end
  end
  counter = (offset * 7919) % #pairs_
end
function request()
  counter = counter % #pairs_ + 1
  local pair = pairs_[counter]
  local path = string.gsub("{path_template}", "{{citizen}}", pair[1])
  return wrk.format("{method}", path, {{{content_type}["Authorization"] = "Bearer " .. pair[2]}}, {body})
end
"""
