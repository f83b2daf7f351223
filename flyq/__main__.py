"""`python -m flyq`: the `flyq` command line."""

from flyq.cli import main

main()
