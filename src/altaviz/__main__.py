"""``python -m altaviz``: the command line."""

from altaviz.cli import app

if __name__ == "__main__":
    app(prog_name="altaviz")
