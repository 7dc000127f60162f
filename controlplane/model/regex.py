"""Regular expressions as Envoy's RE2 engine accepts them.

Python's `re` accepts look-arounds and back-references that RE2 rejects, so validating with it
would let Envoy NACK the config later. We compile with the real RE2 and apply Envoy's default
program-size limit (`max_program_size` error level, 100).
"""

import re2

ENVOY_MAX_PROGRAM_SIZE = 100

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def check_re2(pattern: str) -> str:
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        message = error.args[0] if error.args else str(error)
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        raise ValueError(f"invalid RE2 regex {pattern!r}: {message}") from None
    if compiled.programsize > ENVOY_MAX_PROGRAM_SIZE:
        raise ValueError(
            f"regex {pattern!r} is too complex for Envoy (RE2 program size "
            f"{compiled.programsize} > {ENVOY_MAX_PROGRAM_SIZE})"
        )
    return pattern


def regex_groups(pattern: str) -> int:
    """How many capturing groups a valid pattern has."""
    groups: int = re2.compile(pattern, _OPTIONS).groups
    return groups
