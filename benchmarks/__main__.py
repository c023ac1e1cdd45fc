"""`python -m benchmarks [NAME...] [--quick] [--full] [--json]` (the same as `precog bench`)."""

import sys

from benchmarks.runner import main

sys.exit(main())
