"""`python -m vestis`: the same as the `vestis` command."""

from vestis.cli.app import main

if __name__ == "__main__":
    main()
