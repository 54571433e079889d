"""Helpers every subcommand shares: logging set-up, JSON output and the one-line failure path."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from engine.errors import PneumoError

log = logging.getLogger("pneumollm")


# Libraries that log or warn about details a user cannot act on; their records show with -v.
LIBRARY_LOGGERS = ("py.warnings", "pydicom", "PIL", "transformers", "accelerate", "distributed", "pynetdicom",
                   "torch", "urllib3", "matplotlib")


def configure_logging(verbosity: int) -> None:
    """Only the entry points configure logging; the engine just uses named loggers.

    Without -v the user reads one line per failure: library log records and Python warnings are held back
    (``engine.io.decoder_chatter`` does the same for decoders' native stderr)."""
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.captureWarnings(True)
    if verbosity == 0:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def emit(payload: dict[str, Any], as_json: bool, text: Callable[[dict[str, Any]], str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, default=_json_default) + "\n")
    else:
        sys.stdout.write(text(payload) + "\n")


def fail(message: str, as_json: bool, extra: dict[str, Any] | None = None, code: int = 1) -> int:
    """Report a failure as one line (stderr) and, with --json, as a JSON object; return the exit code."""
    line = " ".join(message.split())
    if as_json:
        sys.stdout.write(json.dumps({"ok": False, "error": line, **(extra or {})}, default=_json_default) + "\n")
    sys.stderr.write(f"pneumollm: {line}\n")
    return code


def guarded(as_json: bool, body: Callable[[], int], extra: dict[str, Any] | None = None) -> int:
    """Run a subcommand body; known errors become one line, unknown ones one line plus a logged traceback."""
    try:
        return body()
    except PneumoError as exc:
        return fail(exc.one_line(), as_json, extra)
    except KeyboardInterrupt:
        return fail("interrupted", as_json, extra, code=130)
    except MemoryError:
        return fail("out of memory — close other programs or use a smaller batch", as_json, extra)
    except OSError as exc:  # a folder or file the user named: say which, and why
        where = exc.filename or "a file"
        return fail(f"cannot use {where}: {exc.strerror or type(exc).__name__}", as_json, extra)
    except Exception as exc:
        log.debug("unexpected failure", exc_info=True)
        return fail(f"unexpected error ({type(exc).__name__}); run with -vv for details", as_json, extra)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
