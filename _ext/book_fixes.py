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
