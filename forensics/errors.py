"""Errors that reach the user as one clear line and exit code 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: a missing file, a file that is not a disk image, an unusable option.

    The CLI prints ``str(error)`` on one line and exits with status 2.
    """


class ImageReadError(InputError):
    """The image could not be read at an offset (I/O error, missing E01 chunk)."""
