"""The `twpipe` command line."""
