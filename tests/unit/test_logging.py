"""JSON log lines: fixed fields, `extra` fields, context fields and exceptions."""

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from controlplane.logging import JsonFormatter, configure_logging, log_fields


def _line(record: logging.LogRecord) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("chaosgw.test", logging.WARNING, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_a_line_has_the_fixed_fields_and_the_extra_ones() -> None:
    line = _line(_record("pushed %d routes", 3, revision=7, groups=["edge"]))

    assert line["level"] == "warning"
    assert line["logger"] == "chaosgw.test"
    assert line["msg"] == "pushed 3 routes"
    assert str(line["ts"]).endswith("+00:00")
    assert (line["revision"], line["groups"]) == (7, ["edge"])


def test_context_fields_apply_inside_the_block_only() -> None:
    with log_fields(request_id="abc"), log_fields(node="envoy-1"):
        inside = _line(_record("x"))
    outside = _line(_record("x"))

    assert (inside["request_id"], inside["node"]) == ("abc", "envoy-1")
    assert "request_id" not in outside


def test_exceptions_are_one_field_and_odd_values_still_serialise() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "chaosgw.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    record.__dict__["path"] = object()

    line = _line(record)

    assert "RuntimeError: boom" in str(line["exc"])
    assert str(line["path"]).startswith("<object object")


@pytest.fixture
def restored_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restored_root_logger")
def test_configure_logging_writes_json_lines_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")

    logging.getLogger("chaosgw.test").info("ready", extra={"port": 8080})
    logging.getLogger("chaosgw.test").debug("hidden")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["msg"], line["port"]) for line in lines] == [("ready", 8080)]
