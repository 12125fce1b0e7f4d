"""Liveblog: a live-blog platform for newsrooms that pushes every change to readers."""

__version__ = "0.1.0"
