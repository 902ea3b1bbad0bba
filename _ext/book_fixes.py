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
    # After Sphinx's toctree collector (priority 500) has assigned its book-wide numbers.
    app.connect("env-get-updated", _number_figures_per_chapter, priority=900)
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


# --------------------------------------------------------------------------- figure numbers
# The chapters number their headings by hand ("## 4.2 ...", _toc.yml has `numbered: false`), so
# Sphinx's numfig, which takes section numbers from a numbered toctree, would count figures
# through the whole book (Figure 1 ... Figure 70). Number them per chapter instead, as the
# headings are: the figures of chapters/04_autoencoders are Figure 4.1, 4.2, ... in page order,
# those of the appendix A.1, A.2, ... The prose cites them by the same plain-text number, which
# reads the same in the book, in Jupyter and in Colab (tests/test_conventions.py checks both).

import re as _re  # noqa: E402


def chapter_label(docname):
    """4 for chapters/04_autoencoders, "A" for appendix_scaling, None for other pages."""
    match = _re.match(r"chapters/(\d+)_", docname)
    if match:
        return int(match[1])
    return "A" if docname.startswith("appendix") else None


def _number_figures_per_chapter(app, env):
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        label = chapter_label(docname)
        figures = by_type.get("figure")
        if label is None or not figures:
            continue
        in_order = sorted(figures, key=figures.get)  # Sphinx's numbers follow page order
        renumbered = {fig_id: (label, i + 1) for i, fig_id in enumerate(in_order)}
        if renumbered != figures:
            by_type["figure"] = renumbered
            changed.append(docname)
    return changed

