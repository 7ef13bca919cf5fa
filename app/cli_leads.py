"""Operator commands for stored leads and customers: `leads ...` and `customers ...`."""

from __future__ import annotations

import argparse


def add_commands(commands) -> None:
    """Register the `leads` and `customers` commands on the CLI's subparsers."""


def run(args: argparse.Namespace) -> int:
    """Run a `leads` or `customers` command."""
    raise NotImplementedError
