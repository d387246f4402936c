"""``python -m scalinglab``: the same as the ``scalinglab`` command."""

import sys

from scalinglab.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
