"""Digilog's runtime: settings, the composition root, the CLI and the platform adapters."""
