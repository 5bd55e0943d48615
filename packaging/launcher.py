"""Entry script of the frozen bundle: runs the same command line as `python -m ziggy_desktop`."""

import sys

from ziggy_desktop.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
