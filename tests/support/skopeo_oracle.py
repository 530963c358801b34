"""Ask the real skopeo (containers/image, the library CRI-O uses) what a pull would try.

`SkopeoOracle.pull(registries_conf, image)` writes the text to a private temporary
directory and runs

    skopeo --registries-conf FILE --debug inspect --raw --retry-times 0 docker://IMAGE

then reads containers/image's debug log: one `Trying to access "<pull spec>"` line per
attempt, in order, and for an attempt refused by a `blocked = true` table a following
`Accessing "<spec>" failed: registry <prefix> is blocked in ...` line. A reference that
cannot be rewritten onto a mirror ends the run with `rewriting reference: invalid
reference format` (or `rewriting reference: repository name must be canonical`) before
any attempt.

The attempts only tell the whole story when every one of them fails: skopeo stops at
the first that answers. Callers point every registry at a loopback address with a port
where nothing listens, and the oracle refuses to report a run that succeeded.

It also refuses a run whose answer could have been shaped by something other than the
given file: a configuration key skopeo did not understand, or another loaded file (the
system drop-ins in /etc/containers/registries.conf.d) that declares `[[registry]]`
tables. The child gets a private HOME and no proxy variables, so per-user drop-ins,
auth files and proxies stay out of it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_TIMEOUT_SECONDS = 30.0
REWRITING_FAILED = "rewriting reference: "

_LOG_LINE_RE = re.compile(r'\blevel=(?P<level>\w+) msg="(?P<msg>(?:[^"\\]|\\.)*)"')
_GO_ESCAPE_RE = re.compile(r"\\(.)")
_GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_TRYING_RE = re.compile(r'Trying to access "(?P<spec>.*)"', re.DOTALL)
_BLOCKED_RE = re.compile(
    r'Accessing "(?P<spec>.*)" failed: registry (?P<prefix>\S+) is blocked in ', re.DOTALL
)
_LOADING_RE = re.compile(r'Loading registries configuration "(?P<path>.*)"', re.DOTALL)
_UNDECODED_RE = re.compile(r"Failed to decode keys (?P<keys>.*) from ", re.DOTALL)


class SkopeoOracleError(AssertionError):
    """The run cannot be used as an oracle answer (and says why, with skopeo's log)."""


@dataclass(frozen=True, slots=True)
class SkopeoAttempt:
    pull_spec: str
    blocked_by: str | None = None
    """The `[[registry]]` prefix that refused this attempt locally, if one did."""

    def __str__(self) -> str:
        if self.blocked_by is None:
            return self.pull_spec
        return f"{self.pull_spec} (blocked by {self.blocked_by})"


@dataclass(frozen=True, slots=True)
class SkopeoPull:
    """What one `skopeo inspect` run did, in order."""

    image: str
    attempts: tuple[SkopeoAttempt, ...]
    fatal: str | None
    """The final error message (`level=fatal`)."""
    loaded_configs: tuple[str, ...]
    log: str

    @property
    def rewriting_error(self) -> str | None:
        """`rewriting reference: <reason>` when the candidate list could not be built.

        Such a pull fails before contacting anything. containers/image gives two reasons:
        `invalid reference format` (the rewritten string breaks the grammar) and
        `repository name must be canonical` (it parses, but only as a Docker Hub short form).
        """
        if self.attempts or self.fatal is None or REWRITING_FAILED not in self.fatal:
            return None
        return REWRITING_FAILED + self.fatal.split(REWRITING_FAILED, 1)[1]


def find_skopeo() -> str | None:
    return shutil.which("skopeo")


class SkopeoOracle:
    def __init__(self, executable: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.executable = executable
        self.timeout = timeout

    def pull(
        self, registries_conf: str, image: str, drop_ins: Mapping[str, str] | None = None
    ) -> SkopeoPull:
        """Every attempt skopeo makes for `docker://image` under `registries_conf`, and the
        `drop_ins` (file name → text), which skopeo reads after it in name order (from the
        private home's per-user registries.conf.d, after the system drop-ins)."""
        with tempfile.TemporaryDirectory(prefix="skopeo-oracle-") as home:
            conf = Path(home) / "registries.conf"
            conf.write_text(registries_conf)
            own = {str(conf)}
            drop_in_dir = Path(home) / ".config" / "containers" / "registries.conf.d"
            drop_in_dir.mkdir(parents=True)
            for name, text in (drop_ins or {}).items():
                (drop_in_dir / name).write_text(text)
                own.add(str(drop_in_dir / name))
            command = [
                self.executable,
                "--registries-conf",
                str(conf),
                "--debug",
                "inspect",
                "--raw",
                "--retry-times",
                "0",
                f"docker://{image}",
            ]
            try:
                completed = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                    env=_isolated_env(home),
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired as timeout:
                log = _text(timeout.stderr)
                raise SkopeoOracleError(
                    f"skopeo took longer than {self.timeout}s for {image}:\n{log}"
                ) from None
            pull = parse_debug_log(image, completed.stderr)
            problem = _unusable(pull, completed.returncode, str(conf), own)
            if problem:
                raise SkopeoOracleError(
                    f"{problem}\nimage: {image}\nregistries.conf:\n{registries_conf}\n"
                    f"skopeo log:\n{completed.stderr}"
                )
            return pull


def parse_debug_log(image: str, log: str) -> SkopeoPull:
    attempts: list[SkopeoAttempt] = []
    loaded: list[str] = []
    fatal: str | None = None
    for level, message in _log_messages(log):
        if level == "fatal":
            fatal = message
        elif trying := _TRYING_RE.fullmatch(message):
            attempts.append(SkopeoAttempt(trying["spec"]))
        elif blocked := _BLOCKED_RE.match(message):
            if not attempts or attempts[-1].pull_spec != blocked["spec"]:
                raise SkopeoOracleError(f"blocked attempt without a Trying line: {message}\n{log}")
            attempts[-1] = SkopeoAttempt(blocked["spec"], blocked["prefix"])
        elif loading := _LOADING_RE.fullmatch(message):
            loaded.append(loading["path"])
        elif undecoded := _UNDECODED_RE.match(message):
            raise SkopeoOracleError(f"skopeo ignored configuration keys {undecoded['keys']}\n{log}")
    return SkopeoPull(image, tuple(attempts), fatal, tuple(loaded), log)


def _log_messages(log: str) -> list[tuple[str, str]]:
    messages = []
    for line in log.splitlines():
        match = _LOG_LINE_RE.search(line)
        if match:
            text = _GO_ESCAPE_RE.sub(lambda m: _GO_ESCAPES.get(m[1], m[1]), match["msg"])
            messages.append((match["level"], text))
    return messages


def _unusable(pull: SkopeoPull, returncode: int, conf: str, own: set[str]) -> str | None:
    if returncode == 0:
        return "skopeo reached a registry: the attempts after that one were never made"
    if pull.fatal is None:
        return f"skopeo exited with {returncode} without a fatal error line"
    if conf not in pull.loaded_configs:
        return f"skopeo did not load {conf}"
    for other in pull.loaded_configs:
        if other not in own and _declares_registries(other):
            return f"{other} also declares [[registry]] tables, so skopeo's answer is not ours"
    return None


@cache
def _declares_registries(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return "registry" in tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError):
        return True


def _isolated_env(home: str) -> dict[str, str]:
    """No proxies, no per-user configuration or credentials: only PATH and a private home."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_RUNTIME_DIR": home,
        "LC_ALL": "C",
    }


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
