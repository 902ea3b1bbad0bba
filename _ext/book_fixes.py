"""Small fixes to the HTML that jupyter-book 1.0 produces.

sphinx-thebe registers its inline configuration script twice (`const THEBE_JS_URL = ...` appears
twice per page), and the second copy throws "Identifier 'THEBE_JS_URL' has already been declared"
in the browser. Drop exact duplicates from each page's script list.
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for js in context.get("script_files", []):
        key = (js.filename or "", repr(sorted(js.attributes.items())))  # None and "" both mean inline
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --------------------------------------------------------------------------- bibliography labels
# The chapters cite author-year ("Rosenblatt, 1958"); label the bibliography the same way instead
# of pybtex's default alpha labels ("[Ros58]"), so a reader can match a citation to its entry.

from collections import Counter  # noqa: E402

from pybtex.plugin import register_plugin  # noqa: E402
from pybtex.style.formatting.unsrt import Style as _UnsrtStyle  # noqa: E402
from pybtex.style.labels import BaseLabelStyle  # noqa: E402
from pybtex.style.sorting.author_year_title import SortingStyle as _AuthorYearSort  # noqa: E402


class _AuthorYearLabels(BaseLabelStyle):
    """"LeCun et al., 1998"; two entries that would share a label become 1998a and 1998b."""

    def format_labels(self, sorted_entries):
        labels = [self._label(entry) for entry in sorted_entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] == 1:
                yield label
            else:
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label]]
                seen[label] += 1

    def _label(self, entry):
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(p.last_names) for p in people]
        who = names[0] if len(names) == 1 else (
            f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al.")
        return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(_UnsrtStyle):
    default_label_style = _AuthorYearLabels
    default_sorting_style = _AuthorYearSort


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
