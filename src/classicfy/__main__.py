"""`python -m classicfy` (and `torchrun -m classicfy train ...`): the command line."""

import sys

from classicfy.cli import main

sys.exit(main())
