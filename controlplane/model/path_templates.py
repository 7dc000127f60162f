"""Path templates such as `/players/{player_id}/inventory`, as Envoy's `uri_template` matcher
takes them.

We accept the subset of Envoy's syntax whose rules we check here, so a template Envoy would
refuse never reaches it: segments are literals, `*` (one segment), `**` (any number of
segments; no operator after it) or a variable `{name}`, `{name=*}`, `{name=**}`, `{name=literal/*}`.
"""

import re

# Envoy's limits (uri_template_lib): at most 5 variables, names of 1 to 16 characters.
MAX_VARIABLES = 5
_VARIABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")
_LITERAL = re.compile(r"[A-Za-z0-9\-._~!$&'()+,;:@=]+")
_VARIABLE = re.compile(r"\{([^{}=]*)(?:=([^{}]*))?\}")


def check_template(template: str) -> str:
    """`template` if Envoy accepts it, else ValueError saying why."""
    if not template.startswith("/"):
        raise ValueError("a template path must start with '/'")
    names: list[str] = []
    globs: list[str] = []  # every `*` and `**`, in order, to place `**` last
    for segment in _segments(template[1:]):
        variable = _VARIABLE.fullmatch(segment)
        if variable is None:
            _check_pattern_segment(segment, globs)
            continue
        name, pattern = variable.group(1), variable.group(2)
        if not _VARIABLE_NAME.fullmatch(name):
            raise ValueError(
                f"template variable {name!r} must be a letter then up to 15 letters, digits or '_'"
            )
        if name in names:
            raise ValueError(f"template variable {name!r} appears twice")
        names.append(name)
        for part in (pattern or "*").split("/"):
            _check_pattern_segment(part, globs)
    if len(names) > MAX_VARIABLES:
        raise ValueError(f"a template has at most {MAX_VARIABLES} variables")
    if "**" in globs[:-1]:
        raise ValueError("'**' must be the last operator ('*', '**', variable) of a template")
    return template


def literal_prefix(template: str) -> str:
    """The fixed text every path the template matches starts with."""
    cut = min((i for i in (template.find("{"), template.find("*")) if i >= 0), default=None)
    return template if cut is None else template[:cut]


def _segments(path: str) -> list[str]:
    # A variable's own pattern may hold '/': split outside braces only.
    segments, depth, current = [], 0, ""
    for char in path:
        if char == "/" and depth == 0:
            segments.append(current)
            current = ""
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth not in (0, 1):
            raise ValueError("template braces must not nest or close before they open")
        current += char
    if depth:
        raise ValueError("a template variable is not closed with '}'")
    segments.append(current)
    return segments


def _check_pattern_segment(segment: str, globs: list[str]) -> None:
    if segment in ("*", "**"):
        globs.append(segment)
    elif not segment:
        raise ValueError("a template has no empty segments ('//' or a trailing '/')")
    elif not _LITERAL.fullmatch(segment):
        raise ValueError(
            f"template segment {segment!r} must be a literal (letters, digits, -._~!$&'()+,;:@=),"
            " '*', '**' or a variable such as {player_id}"
        )


def variables(template: str) -> list[str]:
    """The names of the template's variables, in order."""
    return [
        match.group(1)
        for segment in _segments(template[1:])
        if (match := _VARIABLE.fullmatch(segment)) is not None
    ]


def variable_regex(template: str, name: str) -> str:
    """An RE2 regex matching the paths `template` matches (whole path, no query string), whose
    group 1 is the value of variable `name`."""
    parts = []
    for segment in _segments(template[1:]):
        variable = _VARIABLE.fullmatch(segment)
        if variable is None:
            parts.append(_glob_regex(segment))
            continue
        inner = "/".join(_glob_regex(part) for part in (variable.group(2) or "*").split("/"))
        parts.append(f"({inner})" if variable.group(1) == name else inner)
    return "/" + "/".join(parts)


def _glob_regex(segment: str) -> str:
    if segment == "*":
        return "[^/]+"
    if segment == "**":
        return ".*"
    return re.escape(segment)
