import sys

from scalinglab.cli.main import main

sys.exit(main())
