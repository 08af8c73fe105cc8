"""Full-text search over catalog entries that works for Chinese text.

Chinese has no spaces between words, and the databases' own tokenizers either keep a whole
sentence as one token (FTS5 ``unicode61``, PostgreSQL's parser) or cut it into trigrams, which
miss two-character words such as 企业. So the text is cut into words by jieba in Python, on both
sides: what is indexed and what is asked. The database then only matches whitespace-separated
words: an FTS5 table ranked by bm25 on SQLite, a weighted ``tsvector`` with a GIN index ranked
by ``ts_rank`` on PostgreSQL (ADR 0009). Every word of the query must match.
"""

from __future__ import annotations

import logging
import re
from functools import cache

import jieba
import sqlalchemy as sa

from catalog.entry import Definition

WORD = re.compile(r"\w", re.UNICODE)


@cache
def _tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def words(text: str) -> list[str]:
    """``text`` cut into search words (jieba's search mode), lowercased, punctuation dropped."""
    spaced = text.replace("_", " ")
    return [w.lower() for w in _tokenizer().cut_for_search(spaced) if w.strip() and WORD.search(w)]


def indexed_text(definition: Definition) -> dict[str, str]:
    """The three weighted fields of an entry, cut into words."""
    columns = " ".join(f"{c.name} {c.comment}" for c in definition.columns)
    return {
        "title": " ".join(words(f"{definition.dataset} {definition.title}")),
        "description": " ".join(
            words(f"{definition.description} {definition.owner_name} {definition.category_name}")
        ),
        "columns": " ".join(words(columns)),
    }


def index(db: sa.Connection, code: str, definition: Definition) -> None:
    """Replace the indexed text of the resource ``code``."""
    fields = indexed_text(definition)
    db.execute(sa.text("DELETE FROM catalog_search WHERE code = :code"), {"code": code})
    db.execute(
        sa.text(
            "INSERT INTO catalog_search (code, title, description, columns) "
            "VALUES (:code, :title, :description, :columns)"
        ),
        {"code": code, **fields},
    )


def search(db: sa.Connection, query: str, limit: int = 20) -> list[tuple[str, float]]:
    """Resource codes matching every word of ``query``, best first, with their rank."""
    terms = list(dict.fromkeys(words(query)))
    if not terms:
        return []
    if db.dialect.name == "postgresql":
        statement = sa.text(
            "SELECT code, ts_rank('{0.1, 0.2, 0.6, 1.0}', document, query) AS rank"
            " FROM catalog_search, to_tsquery('simple', :query) query"
            " WHERE document @@ query ORDER BY rank DESC, code LIMIT :limit"
        )
        quoted = " & ".join("'" + t.replace("'", "''") + "'" for t in terms)
        rows = db.execute(statement, {"query": quoted, "limit": limit})
        return [(code, float(rank)) for code, rank in rows]
    statement = sa.text(
        "SELECT code, bm25(catalog_search, 0.0, 10.0, 2.0, 4.0) AS rank FROM catalog_search"
        " WHERE catalog_search MATCH :query ORDER BY rank, code LIMIT :limit"
    )
    quoted = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
    rows = db.execute(statement, {"query": quoted, "limit": limit})
    # bm25 is lower for better matches; the negation makes "higher is better" on both engines.
    return [(code, -float(rank)) for code, rank in rows]
