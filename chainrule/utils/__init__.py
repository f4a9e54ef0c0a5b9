"""Utilities with torch's layout: ``chainrule.utils.data`` (datasets, samplers, DataLoader)."""

from __future__ import annotations

from chainrule.utils import data

__all__ = ["data"]
