"""Raw text normalization shared by every text model (bag of words, TF-IDF, the LSTM)."""

from __future__ import annotations

import html
import re
import unicodedata

HTML_TAG = re.compile(r"<[^>]+>")
URL = re.compile(r"(?:https?://|www\.)\S+")
WHITESPACE = re.compile(r"\s+")


class TextCleaner:
    """Normalize one raw text: Unicode (NFKC), HTML tags and entities, URLs, case, spaces."""

    def __init__(self, lowercase: bool = True, strip_html: bool = True, strip_urls: bool = True):
        self.lowercase = lowercase
        self.strip_html = strip_html
        self.strip_urls = strip_urls

    def __call__(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        if self.strip_html:
            text = html.unescape(HTML_TAG.sub(" ", text))
        if self.strip_urls:
            text = URL.sub(" ", text)
        if self.lowercase:
            text = text.lower()
        return WHITESPACE.sub(" ", text).strip()
