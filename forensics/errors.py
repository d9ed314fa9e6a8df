"""Errors that reach the user as one clear line and exit code 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: a missing file, a file that is not a disk image, an unusable option.

    The CLI prints ``str(error)`` on one line and exits with status 2.
    """


class ImageReadError(InputError, OSError):
    """The image could not be read at an offset (I/O error, missing E01 chunk).

    An OSError too, so that code reading file-system structures treats an unreadable sector
    like any other damage (a Problem, the scan goes on); only when the image cannot be opened
    at all does it reach the user as an input error.
    """
