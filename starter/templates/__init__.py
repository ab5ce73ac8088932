"""Templates that `mi-starter new` fills in (package data, read with importlib.resources):
`question.py.txt` (a starter module that runs as written) and `question_test.py.txt` (its test on
hand-built rows). Markers: __SLUG__, __MODULE__, __TITLE__, __AREA__ and __QUOTE__ (the quote's
lines, each already behind `# > `)."""
