"""`python -m vestis`: the same as the `vestis` command."""

from vestis.cli import main

if __name__ == "__main__":
    main()
