"""`modelctl`, the command line of modelops (entry point `modelops.cli.main:main`)."""
