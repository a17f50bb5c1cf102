"""Files in the Kaggle "Fake News" train.csv format (id,title,author,text,label), with the
kinds of mess the real one has; used by the tests and by bench/text.py."""

from __future__ import annotations

import csv

KAGGLE_COLUMNS = ["id", "title", "author", "text", "label"]
RELIABLE_WORDS = "senate committee report budget hearing vote economy official"
UNRELIABLE_WORDS = "shocking secret miracle hoax exposed conspiracy truth banned"


def kaggle_rows() -> list[dict[str, str]]:
    """A file in the Kaggle "Fake News" train.csv format, with the mess the real one has."""
    rows = []
    for number in range(120):
        unreliable = number % 2
        words = UNRELIABLE_WORDS if unreliable else RELIABLE_WORDS
        rows.append(
            {
                "id": str(number),
                "title": f"Story {number}: {words.split()[number % 8]} news",
                "author": "" if number % 7 == 0 else f"Author {number % 5}",  # some missing
                "text": f"{words} article number {number} " + "lorem " * (number % 13),
                "label": str(unreliable),
            }
        )
    rows[3]["title"] = ""  # no title: the author and text still make an input
    rows[5]["text"] = "Ünïcödé — “quoted” façade, naïve café " + rows[5]["text"]
    rows[8]["text"] = "a very long article " * 2000
    rows += [
        {"id": "200", "title": "", "author": "", "text": "   \n\t ", "label": "1"},  # no text
        {"id": "201", "title": "", "author": "", "text": "", "label": "0"},  # no text
        {"id": "202", "title": "Kept out", "author": "X", "text": "no label here", "label": ""},
        dict(rows[10], id="203"),  # a repeated article
        dict(rows[11], id="204"),
    ]
    return rows


def write_kaggle_csv(path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, KAGGLE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
