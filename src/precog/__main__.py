"""`python -m precog` is the `precog` command."""

from precog.cli.main import main

if __name__ == "__main__":
    main()
