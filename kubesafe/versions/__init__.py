"""Finding, downloading and choosing kubectl versions."""
