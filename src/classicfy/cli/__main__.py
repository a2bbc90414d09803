import sys

from classicfy.cli import main

sys.exit(main())
