"""The `nurserywatch` command line: `main` builds the parser from each command group."""
from monitor.cli.classify import classify_stream
from monitor.cli.main import build_parser, main

__all__ = ["build_parser", "classify_stream", "main"]
