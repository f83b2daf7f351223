"""`python -m flyq.crash`: the crash-consistency explorer's command line."""

from flyq.crash.cli_command import main

main()
