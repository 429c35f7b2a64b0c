from altaviz.cli import app

app(prog_name="altaviz")
