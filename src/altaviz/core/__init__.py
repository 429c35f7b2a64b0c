"""The bottom layer: sensor names, frame helpers, day bounds, feature names and the error
hierarchy. Nothing here imports from any other part of Altaviz."""
