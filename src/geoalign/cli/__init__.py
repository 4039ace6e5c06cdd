"""The ``geoalign`` command line. Each subcommand is a module imported only when it runs."""
