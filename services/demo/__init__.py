"""A small bundled Japanese + English sample (sample.jsonl.gz, see ATTRIBUTION.md) and its loader."""
