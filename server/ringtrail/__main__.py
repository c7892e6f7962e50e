"""``python -m ringtrail``: the same as the ``ringtrail`` command."""

from ringtrail.cli import main

main()
