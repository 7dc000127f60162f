"""Settings read from files: NAME_FILE=/path sets NAME to the file's content (mounted secrets)."""

import os
from collections.abc import MutableMapping
from pathlib import Path

SUFFIX = "_FILE"


class SecretFileError(Exception):
    """A NAME_FILE variable that cannot be used; the message says which and why."""


def apply_secret_files(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Sets NAME from NAME_FILE for every CHAOSGW_* setting and DATABASE_URL; returns the names.

    Kubernetes Secrets and Vault agent mount secrets as files, and a value in a file does not
    show in `kubectl describe` or a process listing. One trailing newline (what editors and
    `echo` add) is removed; anything else in the file is the value. Setting both NAME and
    NAME_FILE is refused rather than silently preferring one. The children the process
    starts inherit the value, so each role reads its settings as before.
    """
    applied = []
    for variable in sorted(environ):
        name = variable.removesuffix(SUFFIX)
        if name == variable or not _reads_from_file(name):
            continue
        if name in environ:
            raise SecretFileError(f"both {name} and {variable} are set: set only one")
        path = Path(environ[variable])
        try:
            content = path.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise SecretFileError(f"{variable}: cannot read {path}: {error}") from error
        environ[name] = content.removesuffix("\n").removesuffix("\r")
        # Children that start `chaosgw` again (`chaosgw run`) must not see both variables.
        del environ[variable]
        applied.append(name)
    return applied


def _reads_from_file(name: str) -> bool:
    return name == "DATABASE_URL" or (name.startswith("CHAOSGW_") and name != "CHAOSGW_")
