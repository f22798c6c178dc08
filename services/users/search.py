"""Case- and accent-insensitive search of users: the folding, the stored search
text, the LIKE pattern."""
import unicodedata

# Letters that Unicode does not decompose into a base letter plus marks, but
# that a Dutch user types as that base letter (after casefold).
_FOLD_LETTERS = str.maketrans({
    "ı": "i",    # Turkish dotless i (İ decomposes into I + dot above by itself)
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t",
    "æ": "ae", "œ": "oe", "þ": "th",
})
# Separates the fields of a user's search text; `q` can never contain it (text()
# refuses control characters), so a match never spans two fields.
SEARCH_SEPARATOR = "\n"


def search_key(value):
    """`value` folded for case- and accent-insensitive matching: NFKD, combining
    marks dropped, casefolded, a few letters without decomposition mapped to
    their base letters, whitespace runs collapsed. None and "" give "".

    Özil, ÖZIL, ozil -> "ozil"; Çelik -> "celik"; Daniëlle -> "danielle";
    Straße -> "strasse"; ﬁ (ligature) -> "fi"; ĳ -> "ij"; İ and ı -> "i";
    Øre -> "ore"; Æ -> "ae".
    """
    if not value:
        return ""
    value = str(value)
    if value.isascii():  # the common case, and the fast one (loads of thousands of rows)
        return " ".join(value.lower().split())
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # casefold may introduce decomposable letters again (rare): normalise once more
    folded = unicodedata.normalize("NFKD", bare.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(folded.translate(_FOLD_LETTERS).split())


SEARCH_FIELDS = ("first_name", "prefix", "last_name", "email", "code")


def search_text(user):
    """The stored search text of a user (a mapping of SEARCH_FIELDS): the full
    name with and without prefix, the e-mail address and the code, each folded
    by search_key and separated by SEARCH_SEPARATOR. A substring of any of them
    (first name, last name, prefix included) is a substring of this text."""
    first, prefix, last = (user.get("first_name") or "", user.get("prefix") or "",
                           user.get("last_name") or "")
    parts = (" ".join(p for p in (first, prefix, last) if p),
             " ".join(p for p in (first, last) if p),
             user.get("email") or "", user.get("code") or "")
    return SEARCH_SEPARATOR.join(search_key(p) for p in parts)


def like_pattern(q):
    """The LIKE pattern (escape character backslash) that finds the folded `q`
    anywhere in a search text; `%`, `_` and `\\` in q are literal."""
    folded = search_key(q)
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
